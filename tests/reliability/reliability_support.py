"""Helpers for the reliability tests: sessions with quick retries, resources to move data in."""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path
from urllib.parse import urlsplit

import xnat_sdk
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.models import AbstractResource

MIB = 1024 * 1024

#: Quick retries so that tests of fault handling stay fast; bounded like the default.
QUICK = xnat_sdk.RetryPolicy(attempts=6, backoff=0.01, max_total=20.0)


def open_session(
    handle: EmulatorHandle, retry: xnat_sdk.RetryPolicy = QUICK
) -> xnat_sdk.XNATSession:
    """An admin session on ``handle`` without the keep-alive thread (it would add requests)."""
    return xnat_sdk.connect(handle.url, handle.user, handle.password, keepalive=None, retry=retry)


def make_resource(session: xnat_sdk.XNATSession, project: str = "REL") -> AbstractResource:
    """A fresh resource (project/subject/MR session/resource DATA) to upload into."""
    from xnat_sdk.models import MrSessionData

    subject = session.projects.create(project).subjects.create("S01")
    experiment = subject.experiments.create_as(MrSessionData, f"{project}_MR")
    return experiment.create_resource("DATA", format="BIN")


def write_pattern(path: Path, size: int) -> str:
    """Write ``size`` bytes in which every 8-byte word holds its own offset (so a byte in the
    wrong place cannot go unnoticed), streamed 1 MiB at a time; return the md5."""
    digest = hashlib.md5()
    with path.open("wb") as handle:
        for start in range(0, size, MIB):
            length = min(MIB, size - start)
            words = range(start // 8, (start + length + 7) // 8)
            block = struct.pack(f">{len(words)}Q", *words)[:length]
            handle.write(block)
            digest.update(block)
    return digest.hexdigest()


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def server_path(session: xnat_sdk.XNATSession, uri: str) -> str:
    """The path the emulator sees for ``uri`` (what fault paths and request counts use)."""
    return urlsplit(session.external_url(uri)).path


def report(test: str, **figures: object) -> None:
    """Log a test's figures (faults injected, bytes moved...) at INFO for the closing note:
    ``pytest tests/reliability -o log_cli=true --log-cli-level=INFO`` shows them."""
    shown = ", ".join(f"{name}={value}" for name, value in figures.items())
    logging.getLogger("xnat_sdk.reliability").info("%s: %s", test, shown)
