"""connect(), login, credentials, low-level verbs and typed errors, over loopback HTTP."""

from __future__ import annotations

import logging
import os
import pickle
import stat
from pathlib import Path

import httpx
import pytest

import xnat_sdk
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.emulator.server import Emulator
from xnat_sdk.models import ImageSessionDataScanner, MrScanData, MrSessionData


def test_connect_logs_in_and_reports_server_facts(xnat_emulator: EmulatorHandle) -> None:
    with xnat_sdk.connect(
        xnat_emulator.url, xnat_emulator.user, xnat_emulator.password, keepalive=None
    ) as session:
        assert session.logged_in_user == xnat_emulator.user
        assert session.xnat_version.startswith("1.")
        expiration = session.session_expiration_time
        assert expiration is not None
        assert expiration[1] > 0
        users = session.get_json("/data/users")
        assert isinstance(users, dict)
    with pytest.raises(xnat_sdk.XNATSessionClosedError):
        session.get("/data/version")


def test_wrong_password_is_an_auth_error_without_the_password(
    xnat_emulator: EmulatorHandle,
) -> None:
    with pytest.raises(xnat_sdk.XNATAuthError) as caught:
        xnat_sdk.connect(xnat_emulator.url, xnat_emulator.user, "not-the-password-123")
    assert caught.value.status_code == 401
    assert "not-the-password-123" not in str(caught.value)
    assert "Login attempt failed" in caught.value.message


def test_anonymous_access_refused_by_server_is_an_auth_error(
    xnat_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("XNAT_USER", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    with pytest.raises(xnat_sdk.XNATAuthError):
        xnat_sdk.connect(xnat_emulator.url)


def test_netrc_credentials_are_used(xnat_emulator: EmulatorHandle, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(
        f"machine 127.0.0.1 login {xnat_emulator.user} password {xnat_emulator.password}\n"
    )
    netrc.chmod(stat.S_IRUSR | stat.S_IWUSR)
    with xnat_sdk.connect(xnat_emulator.url, netrc_file=netrc, keepalive=None) as session:
        assert session.logged_in_user == xnat_emulator.user


def test_world_readable_netrc_warns(xnat_emulator: EmulatorHandle, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(
        f"machine 127.0.0.1 login {xnat_emulator.user} password {xnat_emulator.password}\n"
    )
    netrc.chmod(0o644)
    with (
        pytest.warns(UserWarning, match="readable by other users"),
        xnat_sdk.connect(xnat_emulator.url, netrc_file=netrc, keepalive=None),
    ):
        pass


def test_environment_credentials_and_host(
    xnat_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XNAT_HOST", xnat_emulator.url)
    monkeypatch.setenv("XNAT_USER", xnat_emulator.user)
    monkeypatch.setenv("XNAT_PASS", xnat_emulator.password)
    with xnat_sdk.connect(keepalive=None) as session:
        assert session.logged_in_user == xnat_emulator.user
        assert session.server == xnat_emulator.url


def test_user_without_password_and_no_terminal_is_a_clear_error(
    xnat_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XNAT_PASS", raising=False)
    with pytest.raises(xnat_sdk.XNATValueError, match="no password"):
        xnat_sdk.connect(xnat_emulator.url, user="someone")


def test_alias_token_works_as_credentials(session: xnat_sdk.XNATSession) -> None:
    token = session.get_json("/data/services/tokens/issue")
    assert isinstance(token, dict)
    alias, secret = token["alias"], token["secret"]
    assert isinstance(alias, str) and isinstance(secret, str)
    with xnat_sdk.connect(session.server, alias, secret, keepalive=None) as by_token:
        assert by_token.logged_in_user == session.logged_in_user
        assert secret not in repr(by_token)


def test_secrets_stay_out_of_repr_logs_and_pickle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "s3cret-Pa55word"
    with (
        Emulator(tmp_path / "emu", users={"alice": password}) as emulator,
        xnat_sdk.connect(emulator.url, "alice", password, keepalive=None, debug=True) as session,
    ):
        jsessionid = session.interface.cookies.get("JSESSIONID")
        assert jsessionid
        with pytest.raises(xnat_sdk.XNATNotFoundError) as failed:
            session.get("/data/projects/NOPE")
        shown = repr(session) + str(session) + str(failed.value)
        with pytest.raises(TypeError):
            pickle.dumps(session)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/data/projects/NOPE" in logged  # the log does record requests
    assert "alice" in shown
    for secret in (password, jsessionid):
        assert secret not in logged
        assert secret not in shown


def test_not_found_error_names_method_url_status_and_message(
    session: xnat_sdk.XNATSession,
) -> None:
    with pytest.raises(xnat_sdk.XNATNotFoundError) as caught:
        session.get("/data/projects/NO_SUCH_PROJECT")
    error = caught.value
    assert error.method == "GET"
    assert error.url.endswith("/data/projects/NO_SUCH_PROJECT")
    assert error.status_code == 404
    assert str(error).startswith("GET ")


def test_accepted_status_overrides_the_default(session: xnat_sdk.XNATSession) -> None:
    response = session.get("/data/projects/NO_SUCH_PROJECT", accepted_status={404})
    assert response.status_code == 404


def test_expired_session_is_renewed_once(session: xnat_sdk.XNATSession) -> None:
    old = session.interface.cookies.get("JSESSIONID")
    assert old
    # End the server-side session behind the client's back, as a timeout would.
    httpx.delete(f"{session.server}/data/JSESSION", cookies={"JSESSIONID": old})
    assert session.get("/data/auth").status_code == 200
    assert session.interface.cookies.get("JSESSIONID") not in (None, old)


def test_keepalive_thread_beats_and_stops_on_disconnect(xnat_emulator: EmulatorHandle) -> None:
    session = xnat_sdk.connect(
        xnat_emulator.url, xnat_emulator.user, xnat_emulator.password, keepalive=0.05
    )
    thread = session._keepalive_thread
    assert thread is not None and thread.is_alive()
    session.disconnect()
    assert not thread.is_alive()
    session.disconnect()  # idempotent


def test_put_post_delete_round_trip(session: xnat_sdk.XNATSession) -> None:
    created = session.put(
        "/data/projects/VERBS",
        query={"xsiType": "xnat:projectData", "xnat:projectData/ID": "VERBS"},
    )
    assert created.status_code in (200, 201)
    assert session.head("/data/projects/VERBS").status_code == 200
    assert session.get_json("/data/projects/VERBS")
    posted = session.post("/data/projects/VERBS/subjects/S1", query={"xsiType": "xnat:subjectData"})
    assert posted.text.strip()  # the new subject's accession ID
    assert session.get_json("/data/projects/VERBS/subjects/S1")
    session.delete("/data/projects/VERBS", query={"removeFiles": True})
    with pytest.raises(xnat_sdk.XNATNotFoundError):
        session.get("/data/projects/VERBS")


def test_unreachable_server_is_a_connection_error(tmp_path: Path) -> None:
    with pytest.raises(xnat_sdk.XNATConnectionError):
        xnat_sdk.connect("http://127.0.0.1:9", "u", "p", retry=xnat_sdk.RetryPolicy(attempts=1))
    assert not os.listdir(tmp_path)


def test_server_url_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(xnat_sdk.XNATValueError, match="not an http"):
        xnat_sdk.connect("ftp://example.org", "u", "p")
    with pytest.raises(xnat_sdk.XNATValueError, match="not in the URL"):
        xnat_sdk.connect("http://u:p@example.org")


def test_disabling_tls_verification_warns_once(
    xnat_emulator: EmulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="xnat_sdk")
    with xnat_sdk.connect(
        xnat_emulator.url,
        xnat_emulator.user,
        xnat_emulator.password,
        verify=False,
        keepalive=None,
    ) as session:
        session.get("/data/version")
        session.get("/data/version")
    warnings = [r for r in caplog.records if "verification is off" in r.getMessage()]
    assert len(warnings) == 1


def test_scan_types_and_scanners(session: xnat_sdk.XNATSession) -> None:
    assert session.scan_types == []
    assert session.scanners == []
    project = session.projects.create("SUMS")
    subject = project.subjects.create("S1")
    scanner = ImageSessionDataScanner(value="PRISMA", manufacturer="SIEMENS")
    mr = subject.experiments.create_as(MrSessionData, "MR1", scanner=scanner)
    mr.scans.create_as(MrScanData, "1", type="T1w", series_description="mprage")
    mr.scans.create_as(MrScanData, "2", type="DWI", series_description="dti")
    session.clearcache()
    assert session.scan_types == ["DWI", "T1w"]
    assert session.scanners == ["PRISMA"]
