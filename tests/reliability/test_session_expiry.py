"""Sessions that the server ends every T seconds, however busy: renewed without the caller
noticing, every request of a long loop answered, every item seen each time round."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from reliability_support import open_session, report

import xnat_sdk
from xnat_sdk.emulator.faultplan import FaultSettings
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory
from xnat_sdk.errors import XNATLoginRequiredError

LIFETIME = 0.4  # seconds a login lives on the emulator


def test_expiring_session_is_renewed_in_a_long_listing_loop(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory(faults=FaultSettings(session_lifetime=LIFETIME))
    labels = [f"S{i:02d}" for i in range(10)]
    seen: Counter[str] = Counter()
    rounds = 0
    with open_session(handle) as session:
        project = session.projects.create("LOOP")
        for label in labels:
            project.subjects.create(label)
        logins_before = session.logins
        deadline = time.monotonic() + 8 * LIFETIME
        while time.monotonic() < deadline:
            session.clearcache()  # every round asks the server again
            for subject in session.projects["LOOP"].subjects:
                assert subject.label is not None
                seen[subject.label] += 1
                assert len(subject.experiments) == 0  # one more request per subject
            rounds += 1
        renewals = session.logins - logins_before
        expired = handle.emulator.expired_sessions
        assert session.logged_in_user == handle.user
    assert rounds >= 4
    assert seen == Counter({label: rounds for label in labels})  # nothing lost, nothing twice
    # 8 lifetimes of looping: the login ran out several times and was renewed each time.
    assert renewals >= 5, f"{renewals} renewals in {rounds} rounds"
    # Each renewal answers exactly one expiry the server saw (creation included).
    assert expired == session.logins - 1
    report("expiring session", lifetime=LIFETIME, rounds=rounds, renewals=renewals, expired=expired)


def test_anonymous_session_gets_a_clear_error_instead_of_a_login(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.delenv("XNAT_USER", raising=False)
    handle = xnat_emulator_factory()  # like a site without guest access
    with pytest.raises(XNATLoginRequiredError, match="this session is anonymous") as caught:
        xnat_sdk.connect(handle.url, keepalive=None)
    assert caught.value.status_code == 401
