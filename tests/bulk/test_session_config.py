"""SessionConfig over loopback: what a session's config holds (never its secret unless asked),
pickling, reconnecting from it (secret, netrc file, environment) and its clear errors."""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import xnat_sdk
from xnat_sdk import SessionConfig, XNATValueError
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory, EmulatorHandle

USER = "carol"
PASSWORD = "Bulk-s3cret-Pa55"


@pytest.fixture
def emulator(xnat_emulator_factory: EmulatorFactory) -> EmulatorHandle:
    return xnat_emulator_factory(users={USER: PASSWORD})


@pytest.fixture(autouse=True)
def no_ambient_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ~/.netrc and no XNAT_* variables: every credential a test uses is one it gave."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("XNAT_HOST", "XNAT_USER", "XNAT_PASS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def session(emulator: EmulatorHandle) -> Iterator[xnat_sdk.XNATSession]:
    with xnat_sdk.connect(
        emulator.url, USER, PASSWORD, keepalive=None, timeout=7.5, retry=2
    ) as opened:
        yield opened


def _netrc(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "netrc"
    host = httpx.URL(url).host
    path.write_text(f"machine {host} login {USER} password {PASSWORD}\n")
    path.chmod(0o600)
    return path


def test_config_describes_the_session_without_its_secret(
    session: xnat_sdk.XNATSession, emulator: EmulatorHandle
) -> None:
    config = session.config()
    assert (config.server, config.user, config.auth) == (emulator.url, USER, "password")
    assert config.timeout == 7.5 and config.retry.attempts == 3 and config.keepalive is None
    assert not config.has_secret and config.password is None
    blob = pickle.dumps(config)
    assert PASSWORD.encode() not in blob
    assert PASSWORD not in repr(config) and USER in repr(config)
    assert pickle.loads(blob) == config and hash(pickle.loads(blob)) == hash(config)
    assert session.reference_config() is None  # opened with arguments: objects pickle plainly


def test_config_with_the_secret_only_on_request_and_reconnects(
    session: xnat_sdk.XNATSession,
) -> None:
    config = session.config(include_secret=True)
    assert config.has_secret and config.password == PASSWORD
    assert PASSWORD not in repr(config) and PASSWORD not in str(config)
    assert PASSWORD.encode() in pickle.dumps(config)  # the caller asked for it
    with pickle.loads(pickle.dumps(config)).connect() as again:
        assert again.logged_in_user == USER
        assert again.reference_config() == config  # as given: its objects travel with it
        assert again.config() == config.without_secret()
        assert again.server == session.server


def test_secret_free_config_reconnects_through_a_netrc_file(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    netrc = _netrc(tmp_path, emulator.url)
    with xnat_sdk.connect(emulator.url, netrc_file=netrc, keepalive=None) as by_netrc:
        config = by_netrc.config()
    assert (config.auth, config.user, config.netrc_file) == ("netrc", USER, str(netrc))
    assert PASSWORD.encode() not in pickle.dumps(config)
    with xnat_sdk.connect(config=pickle.loads(pickle.dumps(config))) as again:
        assert again.logged_in_user == USER


def test_secret_free_config_reconnects_through_the_environment(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XNAT_USER", USER)
    monkeypatch.setenv("XNAT_PASS", PASSWORD)
    config = SessionConfig(emulator.url, keepalive=None)
    assert config.auth == "netrc" and not config.has_secret
    with config.connect() as session:
        assert session.logged_in_user == USER


def test_missing_credentials_are_a_clear_error(
    session: xnat_sdk.XNATSession, emulator: EmulatorHandle
) -> None:
    with pytest.raises(XNATValueError, match=f"user '{USER}' has no password"):
        session.config().connect()
    with pytest.raises(XNATValueError, match=re.escape(f"no credentials for {emulator.url}")):
        SessionConfig(emulator.url).connect()


def test_wrong_secret_is_refused_by_the_server(emulator: EmulatorHandle) -> None:
    with pytest.raises(xnat_sdk.XNATAuthError):
        SessionConfig(emulator.url, USER, password="not-it", keepalive=None).connect()


def test_connect_takes_either_a_config_or_arguments(emulator: EmulatorHandle) -> None:
    config = SessionConfig(emulator.url, USER, password=PASSWORD, keepalive=None)
    with pytest.raises(XNATValueError, match="do not pass server, password"):
        xnat_sdk.connect(emulator.url, password=PASSWORD, config=config)
    with xnat_sdk.connect(config=config) as session:
        assert session.logged_in_user == USER


def test_invalid_configs_name_what_is_wrong() -> None:
    with pytest.raises(XNATValueError, match="not an http"):
        SessionConfig("ftp://xnat.example.org")
    with pytest.raises(XNATValueError, match="needs a user"):
        SessionConfig("https://xnat.example.org", auth="password")
    with pytest.raises(XNATValueError, match="takes no user"):
        SessionConfig("https://xnat.example.org", "me", auth="anonymous")
    with pytest.raises(XNATValueError, match="timeout must be positive"):
        SessionConfig("https://xnat.example.org", timeout=(1.0, 0.0, None, None))
    with pytest.raises(XNATValueError, match="keepalive must be positive"):
        SessionConfig("https://xnat.example.org", keepalive=-1)
    assert SessionConfig("xnat.example.org/").server == "https://xnat.example.org"
    token = SessionConfig("xnat.example.org", "0f8fad5b-d9cb-469f-a165-70867728950e", password="s")
    assert token.auth == "token"


def test_timeouts_survive_the_round_trip(emulator: EmulatorHandle) -> None:
    chosen = httpx.Timeout(3.0, read=9.0)
    with xnat_sdk.connect(emulator.url, USER, PASSWORD, keepalive=None, timeout=chosen) as session:
        config = session.config(include_secret=True)
        assert config.timeout == (3.0, 9.0, 3.0, 3.0)
        assert config.http_timeout() == chosen
        with config.connect() as again:
            assert again.interface.timeout == chosen


def test_a_session_refuses_pickling_and_names_the_config(session: xnat_sdk.XNATSession) -> None:
    with pytest.raises(TypeError, match=r"session\.config\(\)"):
        pickle.dumps(session)


def test_one_shared_session_per_config_per_process(emulator: EmulatorHandle) -> None:
    config = SessionConfig(emulator.url, USER, password=PASSWORD, keepalive=None)
    shared = config.session()
    try:
        assert pickle.loads(pickle.dumps(config)).session() is shared  # equal configs share
        assert shared.logins == 1
        shared.disconnect()
        reopened = config.session()
        assert reopened is not shared and not reopened.closed
        assert reopened.logged_in_user == USER
    finally:
        config.session().disconnect()


def test_anonymous_config_sends_no_credentials(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XNAT_USER", USER)  # would be used by auth="netrc"
    monkeypatch.setenv("XNAT_PASS", PASSWORD)
    config = SessionConfig(emulator.url, auth="anonymous")
    assert config.credentials() is None
    assert SessionConfig(emulator.url).credentials() is not None
