"""pytest fixtures that run the XNAT emulator on loopback.

``xnat_emulator`` gives a fresh emulator (empty data directory) per test;
``xnat_emulator_module`` shares one per test module. Both yield an ``EmulatorHandle`` with
``.url``, ``.user``, ``.password`` and ``.data_dir``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from xnat_sdk.emulator.server import Emulator


@dataclass(frozen=True)
class EmulatorHandle:
    """What a test needs to talk to a running emulator."""

    url: str
    user: str
    password: str = field(repr=False)
    data_dir: Path
    emulator: Emulator = field(repr=False)


def _run(data_dir: Path) -> Iterator[EmulatorHandle]:
    with Emulator(data_dir) as emulator:
        user, password = emulator.admin
        yield EmulatorHandle(emulator.url, user, password, data_dir, emulator)


@pytest.fixture
def xnat_emulator(tmp_path: Path) -> Iterator[EmulatorHandle]:
    """A running emulator with an empty data directory, for one test."""
    yield from _run(tmp_path / "xnat-emulator")


@pytest.fixture(scope="module")
def xnat_emulator_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """A running emulator shared by the tests of one module."""
    yield from _run(tmp_path_factory.mktemp("xnat-emulator"))
