"""No password, token secret or JSESSIONID in any log record (DEBUG included, the HTTP stack's
too), exception message, ``repr``/``str`` or pickle, through password login, token login and
failed requests."""

from __future__ import annotations

import logging
import pickle

import pytest
from reliability_support import QUICK, report

import xnat_sdk
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory

PASSWORD = "Pa55-w0rd-s3cret"
#: Every logger that could see a header: ours, httpx and all of httpcore's.
LOGGERS = ("", "xnat_sdk", "httpx", "httpcore")


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """``caplog`` recording every logger at DEBUG (read ``.records`` after the fact)."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _rendered(records: list[logging.LogRecord]) -> str:
    """Each record as a handler would write it, traceback included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


def _connect(url: str, user: str, password: str) -> xnat_sdk.XNATSession:
    return xnat_sdk.connect(url, user, password, keepalive=None, retry=QUICK, debug=True)


def test_no_secret_in_logs_errors_reprs_or_pickles(
    xnat_emulator_factory: EmulatorFactory, everything_logged: pytest.LogCaptureFixture
) -> None:
    handle = xnat_emulator_factory(users={"alice": PASSWORD})
    secrets: list[str] = [PASSWORD]
    shown: list[str] = []  # reprs, strs and error messages a user could print
    pickled: list[bytes] = []

    def failures(session: xnat_sdk.XNATSession) -> None:
        with pytest.raises(xnat_sdk.XNATNotFoundError) as missing:
            session.get("/data/projects/NOPE")
        handle.emulator.faults.drop(1, path="/data/projects/NOPE2")
        with pytest.raises(xnat_sdk.XNATConnectionError) as dropped:
            session.post("/data/projects/NOPE2", data={"a": "b"})
        shown.extend([str(missing.value), repr(missing.value), str(dropped.value)])

    def remember(session: xnat_sdk.XNATSession) -> None:
        jsessionid = session.interface.cookies.get("JSESSIONID")
        assert jsessionid
        secrets.append(jsessionid)
        shown.extend([repr(session), str(session)])
        with pytest.raises(TypeError, match="cannot be pickled") as refused:
            pickle.dumps(session)  # a live login does not travel...
        shown.append(str(refused.value))
        config = session.config()  # ...its secret-free description does
        pickled.append(pickle.dumps(config))
        assert config.server.encode() in pickled[-1]  # the pickle is the real config
        shown.extend([repr(config), str(config)])

    # 1. Password login, a project, a token, failed requests.
    with _connect(handle.url, "alice", PASSWORD) as session:
        remember(session)
        project = session.projects.create("SEC")
        pickled.append(pickle.dumps(project))
        token = session.services.issue_token()
        secrets.append(token.secret)
        shown.append(repr(token))
        failures(session)
    # 2. Token login (alias and secret), failed requests.
    with _connect(handle.url, token.alias, token.secret) as by_token:
        remember(by_token)
        assert by_token.logged_in_user == "alice"
        failures(by_token)
    # 3. A refused login: the wrong password in the error?
    with pytest.raises(xnat_sdk.XNATAuthError) as refused:
        _connect(handle.url, "alice", PASSWORD + "-wrong")
    secrets.append(PASSWORD + "-wrong")
    shown.append(str(refused.value))

    records = everything_logged.records
    logged = _rendered(records)
    # The capture is real: the HTTP stack logged the cookie headers, with the value hidden.
    assert any(r.name.startswith("httpcore.http11") for r in records)
    assert any(r.name == "httpx" for r in records)
    assert "(b'set-cookie', b'***')" in logged
    assert "/data/projects/NOPE" in logged
    everything = [logged, *shown]
    for secret in secrets:
        for text in everything:
            assert secret not in text
        for blob in pickled:
            assert secret.encode() not in blob
    report("secrets", records=len(records), secrets_checked=len(secrets), texts=len(shown))
