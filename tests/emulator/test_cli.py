"""The ``xnat-sdk emulator`` command: prints its URL first, serves, stops cleanly on signals."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cli_process import start_emulator_process


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_prints_url_serves_and_stops_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    proc, url = start_emulator_process(tmp_path / "data")
    try:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/data/version", timeout=10).status_code == 200
        assert httpx.get(url + "/data/auth", auth=("admin", "admin")).status_code == 200
    finally:
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
    assert code == 0
    assert (tmp_path / "data" / "xnat.sqlite").is_file()


def test_cli_rejects_a_missing_schemas_folder(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "xnat_sdk.cli",
            "emulator",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--schemas",
            str(tmp_path / "none"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "is not a folder" in done.stderr
