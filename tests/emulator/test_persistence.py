"""Durability: whatever the server acknowledged survives a SIGKILL; nothing half-written shows."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_process import start_emulator_process

pytestmark = pytest.mark.slow

FILES = "/data/projects/P1/subjects/S1/experiments/MR1/resources/RAW/files"


def populate(client: httpx.Client) -> dict[str, bytes]:
    """Write a small archive and files; returns the acknowledged files and their contents."""
    assert client.put("/data/projects/P1", params={"name": "Durable"}).status_code == 200
    assert client.put("/data/projects/P1/subjects/S1").status_code == 201
    session = client.put(
        "/data/projects/P1/subjects/S1/experiments/MR1",
        params={"xsiType": "xnat:mrSessionData", "xnat:mrSessionData/date": "2024-03-04"},
    )
    assert session.status_code == 201
    written: dict[str, bytes] = {}
    for index in range(20):
        data = os.urandom(1000 + index * 5000)
        name = f"f{index:02d}.bin"
        response = client.put(f"{FILES}/{name}", params={"inbody": "true"}, content=data)
        assert response.status_code == 200
        written[name] = data
    return written


def slow_body(stop: threading.Event) -> Iterator[bytes]:
    """An upload that never finishes on its own: 64 KiB every 10 ms until told to stop."""
    while not stop.is_set():
        yield b"z" * 65536
        time.sleep(0.01)


def test_sigkill_loses_nothing_acknowledged_and_leaves_no_partial_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc, url = start_emulator_process(data_dir)
    auth = ("admin", "admin")
    try:
        with httpx.Client(base_url=url, auth=auth, timeout=30) as client:
            written = populate(client)
            token = client.get("/data/services/tokens/issue").json()
        stop = threading.Event()
        outcome: list[BaseException | int] = []

        def upload_forever() -> None:
            try:
                response = httpx.put(
                    f"{url}{FILES}/partial.bin",
                    params={"inbody": "true"},
                    content=slow_body(stop),
                    auth=auth,
                    timeout=30,
                )
                outcome.append(response.status_code)
            except httpx.HTTPError as exc:
                outcome.append(exc)

        uploader = threading.Thread(target=upload_forever)
        uploader.start()
        time.sleep(1.0)  # about 6 MB of the never-ending upload is on the server by now
        staged = list((data_dir / "blobs" / ".tmp").iterdir())
        assert staged, "the unfinished upload should be staged in the temporary folder"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    stop.set()
    uploader.join(timeout=30)
    assert outcome and not isinstance(outcome[0], int), "the cut upload must not be acknowledged"

    proc, url = start_emulator_process(data_dir)
    try:
        with httpx.Client(base_url=url, auth=auth, timeout=30) as client:
            listing = client.get(FILES, params={"format": "json"}).json()["ResultSet"]["Result"]
            by_name = {row["Name"]: row for row in listing}
            assert set(by_name) == set(written)  # every acknowledged file, and only those
            for name, data in written.items():
                assert by_name[name]["Size"] == str(len(data))
                assert by_name[name]["digest"] == hashlib.md5(data).hexdigest()
                assert client.get(f"{FILES}/{name}").content == data
            session = client.get("/data/experiments/XNAT_E00001?format=json").json()
            assert session["items"][0]["data_fields"]["date"] == "2024-03-04"
            # alias tokens are persistent too (sessions are not, as with Tomcat)
            assert (
                httpx.get(f"{url}/data/auth", auth=(token["alias"], token["secret"])).status_code
                == 200
            )
        assert list((data_dir / "blobs" / ".tmp").iterdir()) == []
        blob_files = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
        assert len(blob_files) == len(written)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
