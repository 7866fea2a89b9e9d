"""pytest fixtures that run the XNAT emulator on loopback.

``xnat_emulator`` gives a fresh emulator (empty data directory) per test;
``xnat_emulator_module`` shares one per test module. Both yield an ``EmulatorHandle`` with
``.url``, ``.user``, ``.password`` and ``.data_dir``. ``xnat_emulator_factory`` starts emulators
on demand, e.g. in fault mode: ``xnat_emulator_factory(faults=FaultSettings(fail_rate=0.2))``;
they are stopped when the test ends.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from xnat_sdk.emulator.faultplan import FaultSettings
from xnat_sdk.emulator.server import Emulator


@dataclass(frozen=True)
class EmulatorHandle:
    """What a test needs to talk to a running emulator."""

    url: str
    user: str
    password: str = field(repr=False)
    data_dir: Path
    emulator: Emulator = field(repr=False)


class EmulatorFactory:
    """Starts emulators with chosen faults and accounts; each gets its own data directory."""

    def __init__(self, stack: ExitStack, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._stack = stack
        self._tmp = tmp_path_factory

    def __call__(
        self, *, faults: FaultSettings | None = None, users: Mapping[str, str] | None = None
    ) -> EmulatorHandle:
        data_dir = self._tmp.mktemp("xnat-emulator")
        emulator = self._stack.enter_context(Emulator(data_dir, users=users, faults=faults))
        return _handle(emulator, data_dir)


def _handle(emulator: Emulator, data_dir: Path) -> EmulatorHandle:
    user, password = emulator.admin
    return EmulatorHandle(emulator.url, user, password, data_dir, emulator)


def _run(data_dir: Path) -> Iterator[EmulatorHandle]:
    with Emulator(data_dir) as emulator:
        yield _handle(emulator, data_dir)


@pytest.fixture
def xnat_emulator(tmp_path: Path) -> Iterator[EmulatorHandle]:
    """A running emulator with an empty data directory, for one test."""
    yield from _run(tmp_path / "xnat-emulator")


@pytest.fixture(scope="module")
def xnat_emulator_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """A running emulator shared by the tests of one module."""
    yield from _run(tmp_path_factory.mktemp("xnat-emulator"))


@pytest.fixture
def xnat_emulator_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EmulatorFactory]:
    """Call it to start emulators (``faults=``, ``users=``) that stop when the test ends."""
    with ExitStack() as stack:
        yield EmulatorFactory(stack, tmp_path_factory)
