"""Bodies stream: a large upload, download and zip do not grow the server's memory."""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_process import start_emulator_process

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status"),
]

SIZE = 256 * 1024 * 1024
ALLOWED_GROWTH = 64 * 1024 * 1024  # a quarter of the file: far less than holding it


def peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM line")


def test_large_file_round_trip_in_constant_memory(tmp_path: Path) -> None:
    proc, url = start_emulator_process(tmp_path / "data")
    try:
        with httpx.Client(base_url=url, auth=("admin", "admin"), timeout=300) as client:
            client.put("/data/projects/P")
            client.put("/data/projects/P/subjects/S")
            before = peak_rss(proc.pid)
            chunk = os.urandom(1024 * 1024)
            sent = hashlib.md5()

            def body() -> Iterator[bytes]:
                for _ in range(SIZE // len(chunk)):
                    sent.update(chunk)
                    yield chunk

            files = "/data/projects/P/subjects/S/resources/BIG/files"
            put = client.put(f"{files}/big.bin", params={"inbody": "true"}, content=body())
            assert put.status_code == 200
            received = hashlib.md5()
            with client.stream("GET", f"{files}/big.bin") as response:
                for data in response.iter_bytes():
                    received.update(data)
            assert received.hexdigest() == sent.hexdigest()
            zipped = 0
            with client.stream("GET", files, params={"format": "zip"}) as response:
                for data in response.iter_bytes():
                    zipped += len(data)
            assert zipped > SIZE  # random data does not compress
            assert peak_rss(proc.pid) - before < ALLOWED_GROWTH
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
