"""Shared fixtures for the client tests: a logged-in session on the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import xnat_sdk
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle


@pytest.fixture
def session(xnat_emulator: EmulatorHandle) -> Iterator[xnat_sdk.XNATSession]:
    """An admin session on a fresh emulator (no keep-alive thread: tests are short)."""
    with xnat_sdk.connect(
        xnat_emulator.url, xnat_emulator.user, xnat_emulator.password, keepalive=None
    ) as opened:
        yield opened
