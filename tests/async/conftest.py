"""Fixtures of the async tests: anyio on asyncio, a seeded archive shared by a module, and the
``client`` parametrization that runs each shared scenario on the sync and the async client."""

from __future__ import annotations

import datetime
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import xnat_sdk
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.models import MrScanData, MrSessionData, PetSessionData

sys.path.insert(0, str(Path(__file__).resolve().parent))
from async_support import DATA_FILES, Archive, AsyncClient, Client, SyncClient, open_async


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def archive(xnat_emulator_module: EmulatorHandle) -> Archive:
    emu = xnat_emulator_module
    with xnat_sdk.connect(emu.url, emu.user, emu.password, keepalive=None) as session:
        p1 = session.projects.create("P1", name="First project")
        session.projects.create("P2", name="Second project")
        for label in ("S01", "S02", "S03"):
            p1.subjects.create(label)
        s01 = p1.subjects["S01"]
        mr = s01.experiments.create_as(MrSessionData, "S01_MR1", date=datetime.date(2024, 1, 2))
        scan = mr.scans.create_as(MrScanData, "1", type="T1w", quality="usable")
        mr.scans.create_as(MrScanData, "2", type="T2w", quality="questionable")
        resource = scan.create_resource("DATA", format="BIN")
        for path, data in DATA_FILES.items():
            resource.upload(data, path)
        s01.experiments.create_as(PetSessionData, "S01_PET1")
        p1.subjects["S02"].experiments.create_as(MrSessionData, "S02_MR1")
        for project in ("IMP_sync", "IMP_async"):
            session.projects.create(project)
        return Archive(emu, mr.uri, mr.id or "")


@pytest.fixture(params=["sync", "async"])
async def client(
    request: pytest.FixtureRequest, archive: Archive, anyio_backend: str
) -> AsyncIterator[Client]:
    """The shared scenarios' client: the sync session, then the async one."""
    handle = archive.handle
    if request.param == "sync":
        with xnat_sdk.connect(handle.url, handle.user, handle.password, keepalive=None) as session:
            yield SyncClient(session)
    else:
        async with await open_async(handle) as opened:
            yield AsyncClient(opened)
