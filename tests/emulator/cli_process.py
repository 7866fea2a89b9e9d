"""Running ``xnat-sdk emulator`` as a child process, for tests that kill or load the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def start_emulator_process(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """Start ``xnat-sdk emulator`` on a free port; returns the process and the URL it printed."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xnat_sdk.cli",
            "emulator",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise RuntimeError(f"the emulator did not start: {err}")
    return proc, url
