"""The async mirror of tests/reliability/test_lost_response.py: the emulator applies a request,
then cuts the connection before the answer. What must not happen twice (a POST, an upload
without overwrite) is sent once and reported as ``XNATOutcomeUnknownError``; what may be
repeated (an overwriting upload) is repeated and succeeds; a POST that never left the client
is retried and is not called unknown."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

import xnat_sdk
from xnat_sdk.aio import AsyncXNATSession, connect_async
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory, EmulatorHandle
from xnat_sdk.errors import XNATConflictError, XNATConnectionError, XNATOutcomeUnknownError
from xnat_sdk.models import MrSessionData

pytestmark = pytest.mark.anyio

QUICK = xnat_sdk.RetryPolicy(attempts=4, backoff=0.01, max_total=10.0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _open(handle: EmulatorHandle, retry: xnat_sdk.RetryPolicy = QUICK) -> AsyncXNATSession:
    return await connect_async(handle.url, handle.user, handle.password, retry=retry)


def _resource_uri(handle: EmulatorHandle) -> str:
    """A fresh resource to upload into, made with the sync client (not under test here)."""
    with xnat_sdk.connect(handle.url, handle.user, handle.password, keepalive=None) as session:
        subject = session.projects.create("LOST").subjects.create("S01")
        experiment = subject.experiments.create_as(MrSessionData, "LOST_MR")
        return experiment.create_resource("DATA", format="BIN").uri


def _path(session: AsyncXNATSession, uri: str) -> str:
    return urlsplit(session.external_url(uri)).path


async def _subject_labels(session: AsyncXNATSession, project: str) -> list[str]:
    rows = await session.listing_rows(f"/data/projects/{project}/subjects", {})
    return sorted(row["label"] for row in rows)


async def test_post_with_a_lost_answer_is_applied_once_and_reported_unknown(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    path = "/data/projects/LOST/subjects/S1"
    async with await _open(handle) as session:
        await session.put("/data/projects/LOST", query={"xsiType": "xnat:projectData"})
        plan.drop(1, path=path, after_bytes=0)
        with pytest.raises(XNATOutcomeUnknownError, match="outcome is unknown") as caught:
            await session.post(path, query={"xsiType": "xnat:subjectData"})
        assert "POST" in str(caught.value) and path in str(caught.value)
        assert plan.seen("POST", path) == 1  # not repeated by the client
        assert await _subject_labels(session, "LOST") == ["S1"]  # applied, once
    assert plan.injected() == {"drop": 1}


async def test_upload_without_overwrite_is_not_repeated_after_a_lost_answer(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    resource = _resource_uri(handle)
    async with await _open(handle) as session:
        path = _path(session, f"{resource}/files/once.txt")
        plan.drop(1, path=path, after_bytes=0)
        with pytest.raises(XNATOutcomeUnknownError):
            await session.upload(f"{resource}/files/once.txt", b"first")
        assert plan.seen("PUT", path) == 1
        assert await session.read_bytes(f"{resource}/files/once.txt") == b"first"
        with pytest.raises(XNATConflictError):  # what a blind repeat would have met
            await session.upload(f"{resource}/files/once.txt", b"first")


async def test_overwriting_upload_is_repeated_after_a_lost_answer(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    resource = _resource_uri(handle)
    async with await _open(handle) as session:
        path = _path(session, f"{resource}/files/again.txt")
        plan.drop(2, path=path, after_bytes=0)
        await session.upload(f"{resource}/files/again.txt", b"second", overwrite=True)
        assert plan.seen("PUT", path) == 3  # two lost answers, then the one that arrived
        assert await session.read_bytes(f"{resource}/files/again.txt") == b"second"


async def test_post_that_never_left_the_client_is_retried_and_not_called_unknown(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory()
    retry = xnat_sdk.RetryPolicy(attempts=3, backoff=0.01)
    async with await _open(handle, retry=retry) as session:
        handle.emulator.stop()  # nothing listens any more: every connection is refused
        with pytest.raises(
            XNATConnectionError, match="failed after 3 tries: ConnectError"
        ) as caught:
            await session.post(
                "/data/projects/GONE/subjects/S1", query={"xsiType": "xnat:subjectData"}
            )
        assert not isinstance(caught.value, XNATOutcomeUnknownError)
