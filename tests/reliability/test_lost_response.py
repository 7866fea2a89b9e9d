"""Requests whose answer is lost after the server applied them (the emulator runs the request,
then cuts the connection before the body): what must not happen twice is sent once and the
caller is told the outcome is unknown; what may be repeated is repeated and succeeds."""

from __future__ import annotations

import pytest
from reliability_support import make_resource, open_session, report, server_path

import xnat_sdk
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory
from xnat_sdk.errors import XNATConflictError, XNATConnectionError, XNATOutcomeUnknownError


def test_post_with_a_lost_answer_is_applied_once_and_reported_unknown(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    path = "/data/projects/LOST/subjects/S1"
    with open_session(handle) as session:
        session.projects.create("LOST")
        plan.drop(1, path=path, after_bytes=0)
        with pytest.raises(XNATOutcomeUnknownError, match="outcome is unknown") as caught:
            session.post(path, query={"xsiType": "xnat:subjectData"})
        assert "POST" in str(caught.value) and path in str(caught.value)
        assert plan.seen("POST", path) == 1  # not repeated by the client
        session.clearcache()
        labels = [s.label for s in session.projects["LOST"].subjects]
    assert labels == ["S1"]  # the server applied it, once
    assert plan.injected() == {"drop": 1}


def test_upload_without_overwrite_is_not_repeated_after_a_lost_answer(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    with open_session(handle) as session:
        resource = make_resource(session)
        path = server_path(session, f"{resource.uri}/files/once.txt")
        plan.drop(1, path=path, after_bytes=0)
        with pytest.raises(XNATOutcomeUnknownError):
            resource.upload(b"first", "once.txt")
        assert plan.seen("PUT", path) == 1
        resource.files.clearcache()
        assert resource.files["once.txt"].read() == b"first"  # applied once
        # What a blind repeat would have met: the file exists now.
        with pytest.raises(XNATConflictError):
            resource.upload(b"first", "once.txt")


def test_overwriting_upload_is_repeated_after_a_lost_answer(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    with open_session(handle) as session:
        resource = make_resource(session)
        path = server_path(session, f"{resource.uri}/files/again.txt")
        plan.drop(2, path=path, after_bytes=0)
        resource.upload(b"second", "again.txt", overwrite=True)
        assert plan.seen("PUT", path) == 3  # two lost answers, then the one that arrived
        resource.files.clearcache()
        assert resource.files["again.txt"].read() == b"second"
    report("lost answers", post_sent=1, upload_sent=1, overwrite_sent=3, drops=2)


def test_post_that_never_left_the_client_is_retried_and_not_called_unknown(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory()
    retry = xnat_sdk.RetryPolicy(attempts=3, backoff=0.01)
    with open_session(handle, retry=retry) as session:
        handle.emulator.stop()  # nothing listens any more: every connection is refused
        with pytest.raises(
            XNATConnectionError, match="failed after 3 tries: ConnectError"
        ) as caught:
            session.post("/data/projects/GONE/subjects/S1", query={"xsiType": "xnat:subjectData"})
        assert not isinstance(caught.value, XNATOutcomeUnknownError)
