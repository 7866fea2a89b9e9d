"""Where credentials come from (no server needed: this is argument/netrc/env resolution)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xnat_sdk.auth import Credentials, resolve_credentials, resolve_server
from xnat_sdk.errors import XNATValueError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("XNAT_HOST", "XNAT_USER", "XNAT_PASS"):
        monkeypatch.delenv(name, raising=False)


def test_arguments_win() -> None:
    creds = resolve_credentials("https://xnat.example.org", "alice", "pw")
    assert creds == Credentials("alice", "pw")
    assert "pw" not in repr(creds)


def test_netrc_for_the_server_host(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine xnat.example.org login bob password secret\n")
    netrc.chmod(0o600)
    creds = resolve_credentials("https://xnat.example.org/xnat", netrc_file=netrc)
    assert creds == Credentials("bob", "secret")
    assert resolve_credentials("https://other.example.org", netrc_file=netrc) is None


def test_missing_netrc_file_given_explicitly_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(XNATValueError, match="does not exist"):
        resolve_credentials("https://x.org", netrc_file=tmp_path / "absent")


def test_environment_then_anonymous(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_credentials("https://x.org") is None
    monkeypatch.setenv("XNAT_USER", "carol")
    monkeypatch.setenv("XNAT_PASS", "envpw")
    assert resolve_credentials("https://x.org") == Credentials("carol", "envpw")


def test_alias_tokens_are_recognised() -> None:
    assert Credentials("0b7a0d3e-5d6f-4c2b-9f55-7d5c3c1e2a11", "s").is_token
    assert not Credentials("admin", "s").is_token


def test_server_from_environment_and_default_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XNAT_HOST", "xnat.example.org/")
    assert resolve_server(None) == "https://xnat.example.org"
    monkeypatch.delenv("XNAT_HOST")
    with pytest.raises(XNATValueError, match="no server"):
        resolve_server(None)
