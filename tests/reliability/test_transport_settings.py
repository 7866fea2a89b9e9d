"""Transport settings that protect the caller: timeouts on by default and per call, one warning
per session when TLS verification is off, a warning for a netrc others can read."""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import httpx
import pytest
from reliability_support import QUICK, open_session, report

import xnat_sdk
from xnat_sdk._http import DEFAULT_TIMEOUT
from xnat_sdk.emulator.faultplan import FaultSettings
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory
from xnat_sdk.errors import XNATTimeoutError

SLOW = 1.2  # seconds the emulator's slow mode holds every /data/projects request


def test_timeouts_are_on_by_default_and_overridable_per_call(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory(
        faults=FaultSettings(delay_rate=1.0, delay=SLOW, path="/data/projects")
    )
    plan = handle.emulator.faults
    two_tries = xnat_sdk.RetryPolicy(attempts=2, backoff=0.01)
    with open_session(handle, retry=two_tries) as session:
        timeout = session.interface.timeout
        assert timeout == DEFAULT_TIMEOUT
        assert timeout.connect is not None and timeout.read is not None  # never unbounded
        started = time.monotonic()
        with pytest.raises(XNATTimeoutError, match="ReadTimeout") as caught:
            session.get("/data/projects", timeout=0.2)
        gave_up_after = time.monotonic() - started
        assert "2 tries" in str(caught.value)  # a read timeout is retried, then reported
        assert plan.seen("GET", "/data/projects") == 2
        assert gave_up_after < SLOW  # the per-call timeout, not the server, ended it
        # The session's own timeout (minutes) waits for the slow answer.
        started = time.monotonic()
        assert session.get("/data/projects").status_code == 200
        assert time.monotonic() - started >= SLOW
    injected = plan.injected()
    report(
        "timeouts", slow_requests=injected.get("delay", 0), gave_up_after=f"{gave_up_after:.2f}s"
    )


def test_connect_timeout_replaces_the_default(xnat_emulator_factory: EmulatorFactory) -> None:
    handle = xnat_emulator_factory()
    with xnat_sdk.connect(
        handle.url, handle.user, handle.password, keepalive=None, timeout=7.5
    ) as session:
        assert session.interface.timeout == httpx.Timeout(7.5)


def test_verify_off_warns_once_per_session_even_across_renewals(
    xnat_emulator_factory: EmulatorFactory, caplog: pytest.LogCaptureFixture
) -> None:
    handle = xnat_emulator_factory(faults=FaultSettings(session_lifetime=0.2))
    caplog.set_level(logging.WARNING, logger="xnat_sdk")
    sessions = 0
    for _ in range(2):
        with xnat_sdk.connect(
            handle.url, handle.user, handle.password, verify=False, keepalive=None, retry=QUICK
        ) as session:
            deadline = time.monotonic() + 0.7
            while time.monotonic() < deadline:
                session.get("/data/projects")
            assert session.logins >= 3  # renewed (logged in again) at least twice
            sessions += 1
    warnings = [r for r in caplog.records if "verification is off" in r.getMessage()]
    assert len(warnings) == sessions == 2
    assert all(r.levelno == logging.WARNING for r in warnings)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_netrc_readable_by_others_warns(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path, mode: int
) -> None:
    handle = xnat_emulator_factory()
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {handle.user} password {handle.password}\n")
    netrc.chmod(mode)
    with (
        pytest.warns(UserWarning, match="readable by other users"),
        xnat_sdk.connect(handle.url, netrc_file=netrc, keepalive=None) as session,
    ):
        assert session.logged_in_user == handle.user
    netrc.chmod(0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a private netrc gives no warning
        with xnat_sdk.connect(handle.url, netrc_file=netrc, keepalive=None) as private:
            assert private.logged_in_user == handle.user
