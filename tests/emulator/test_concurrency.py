"""Load: 16 concurrent clients uploading and listing for a minute, no error, no lost write.

The duration is ``XNAT_SDK_CONCURRENCY_SECONDS`` (default 60, as the requirement says).
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from cli_process import start_emulator_process

pytestmark = pytest.mark.slow

CLIENTS = 16
SHARED = "/data/projects/LOAD/resources/SHARED/files"


def worker(url: str, index: int, deadline: float) -> tuple[dict[str, str], dict[str, str], int]:
    """Upload and list until ``deadline``; returns (own files, shared files, request count)."""
    own: dict[str, str] = {}
    shared: dict[str, str] = {}
    requests = 0
    with httpx.Client(base_url=url, auth=("admin", "admin"), timeout=60) as client:
        label = f"S{index:02d}"
        assert client.put(f"/data/projects/LOAD/subjects/{label}").status_code == 201
        own_resource = f"/data/projects/LOAD/subjects/{label}/resources/OWN"
        assert client.put(own_resource).status_code == 200
        files = f"{own_resource}/files"
        requests += 2
        n = 0
        while time.monotonic() < deadline:
            data = os.urandom(512 + (n * 997) % 20000)
            name = f"w{index:02d}_{n:05d}.bin"
            target = SHARED if n % 4 == 0 else files
            response = client.put(f"{target}/{name}", params={"inbody": "true"}, content=data)
            assert response.status_code == 200, response.text
            (shared if target == SHARED else own)[name] = hashlib.md5(data).hexdigest()
            listing = client.get(files, params={"format": "json"})
            assert listing.status_code == 200, listing.text
            names = {row["Name"] for row in listing.json()["ResultSet"]["Result"]}
            assert set(own) <= names  # every acknowledged upload is visible right away
            subjects = client.get("/data/projects/LOAD/subjects", params={"format": "json"})
            assert subjects.status_code == 200
            requests += 3
            n += 1
    return own, shared, requests


def test_sixteen_clients_upload_and_list_without_loss(tmp_path: Path) -> None:
    seconds = float(os.environ.get("XNAT_SDK_CONCURRENCY_SECONDS", "60"))
    proc, url = start_emulator_process(tmp_path / "data")
    try:
        with httpx.Client(base_url=url, auth=("admin", "admin")) as admin:
            assert admin.put("/data/projects/LOAD").status_code == 200
            assert admin.put("/data/projects/LOAD/resources/SHARED").status_code == 200
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(worker, url, index, deadline) for index in range(CLIENTS)]
            results = [future.result() for future in futures]
        elapsed = time.monotonic() - started
        total = sum(r[2] for r in results)
        print(f"\n{CLIENTS} clients, {elapsed:.1f}s, {total} requests, {total / elapsed:.0f} req/s")
        with httpx.Client(base_url=url, auth=("admin", "admin"), timeout=60) as admin:
            shared_rows = admin.get(SHARED, params={"format": "json"}).json()["ResultSet"]["Result"]
            shared_digests = {row["Name"]: row["digest"] for row in shared_rows}
            expected_shared: dict[str, str] = {}
            for index, (own, shared, _count) in enumerate(results):
                assert own, f"client {index} uploaded nothing"
                expected_shared.update(shared)
                files = f"/data/projects/LOAD/subjects/S{index:02d}/resources/OWN/files"
                rows = admin.get(files, params={"format": "json"}).json()["ResultSet"]["Result"]
                assert {row["Name"]: row["digest"] for row in rows} == own
            assert shared_digests == expected_shared
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
