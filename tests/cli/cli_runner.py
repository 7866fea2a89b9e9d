"""Running the real ``xnat-sdk`` entry point in a subprocess, with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The installed console script (the same one users run).
ENTRY_POINT = Path(sys.executable).with_name("xnat-sdk")
CAROL_PASSWORD = "Carol-5ecret-Pa55word-7f3a"
FILES = {"a/b.txt": b"bravo\n" * 100, "c.txt": b"charlie"}
NOTES = {"n.txt": b"a note"}


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path


@dataclass
class Cli:
    """Runs ``xnat-sdk`` with a clean environment: the server and credentials from the
    ``XNAT_*`` variables, and a HOME without a netrc file."""

    server: Server
    home: Path

    def env(self, user: str = "admin", password: str = "admin") -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("XNAT_", "TTY_", "FORCE_COLOR"))
        }
        env.update(
            HOME=str(self.home),
            XNAT_HOST=self.server.url,
            XNAT_USER=user,
            XNAT_PASS=password,
            COLUMNS="200",
        )
        return env

    def __call__(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ENTRY_POINT), *args],
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else self.env(),
            cwd=cwd,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one-line message of a failed command (never a traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]
