"""File bodies over the lean wire (``xnat_sdk._wire``), against the emulator over loopback.

The first try of a download or upload goes over pooled ``http.client`` connections; whatever
it does not finish plainly is handed to the httpx path: an expired login (401) is renewed, a
503 retried, a body cut mid-way resumed with Range. An upload that must not be repeated is
never handed over once it may have reached the server. ``verify=False`` skips the md5 only.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import httpx
import pytest
from reliability_support import (
    MIB,
    make_resource,
    md5_of,
    open_session,
    server_path,
    write_pattern,
)

import xnat_sdk
from xnat_sdk import parallel, transfer
from xnat_sdk._wire import FileWire
from xnat_sdk.emulator.faultplan import FaultSettings
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory
from xnat_sdk.errors import XNATConflictError, XNATOutcomeUnknownError
from xnat_sdk.transfer import TransferStats

BIG = 3 * transfer.THREADED_MD5_MIN + 3  # hashed by the helper thread, its buffers reused


def wire_of(session: xnat_sdk.XNATSession) -> FileWire:
    wire = session.file_wire
    assert wire is not None, "the session has no lean wire (is a proxy set in the environment?)"
    return wire


def test_small_and_big_downloads_over_the_wire_are_identical_and_verified(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    big = tmp_path / "big.bin"
    big_md5 = write_pattern(big, BIG)
    small = {f"s{i}.dat": hashlib.sha256(str(i).encode()).digest() * (i + 1) for i in range(12)}
    out = tmp_path / "out"
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(big, "big.bin")
        for name, content in small.items():
            resource.upload(content, name)
        wire = wire_of(session)
        before = wire.sent
        listed = resource.files["big.bin"]
        assert listed.digest == big_md5
        stats = TransferStats()
        got = transfer.download_file(
            session, listed.uri, out / "big.bin", expected_md5=listed.digest, stats=stats
        )
        assert wire.sent == before + 1
        assert (stats.requests, stats.resumes, stats.restarts) == (1, 0, 0)
        assert stats.bytes_received == stats.bytes_written == BIG
        assert md5_of(got) == big_md5
        files = [resource.files[name] for name in small]
        paths = session.download_files(files, out / "small", max_workers=4)
        assert wire.sent == before + 1 + len(small)
    assert [p.read_bytes() for p in paths] == list(small.values())
    assert sorted(p.name for p in out.iterdir()) == ["big.bin", "small"]  # no partial file


def test_an_expired_login_met_on_the_wire_is_renewed_by_the_httpx_path(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    lifetime = 1.0
    handle = xnat_emulator_factory(faults=FaultSettings(session_lifetime=lifetime))
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"before expiry", "a.txt")
        listed = resource.files["a.txt"]
        time.sleep(lifetime + 0.3)
        path = listed.download(tmp_path / "a.txt")
        assert path.read_bytes() == b"before expiry"
        assert session.logins == 2
        time.sleep(lifetime + 0.3)
        resource.upload(b"after renewal", "b.txt")  # a 401 leaves an upload unapplied
        assert session.logins == 3
        resource.files.clearcache()
        assert resource.files["b.txt"].read() == b"after renewal"
        # the wire sends the renewed cookie: the next download needs no login
        wire = wire_of(session)
        before = wire.sent
        listed.download(tmp_path / "again.txt")
        assert (session.logins, wire.sent) == (3, before + 1)


def test_a_big_upload_refused_for_an_expired_login_is_renewed_and_sent_once(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    """The server answers 401 before reading the body and closes: the refusal is read even
    though sending the rest of the body failed (as httpcore does), so the upload, applied
    nowhere yet, is sent again after the renewal instead of being called of unknown outcome."""
    lifetime = 1.0
    handle = xnat_emulator_factory(faults=FaultSettings(session_lifetime=lifetime))
    plan = handle.emulator.faults
    source = tmp_path / "big.bin"
    expected = write_pattern(source, 24 * MIB)
    with open_session(handle) as session:
        resource = make_resource(session)
        time.sleep(lifetime + 0.3)
        resource.upload(source, "big.bin")  # no overwrite: not repeatable
        assert session.logins == 2
        assert plan.seen("PUT", server_path(session, f"{resource.uri}/files/big.bin")) == 3
        resource.files.clearcache()
        assert resource.files["big.bin"].digest == expected


def test_a_503_on_the_wire_is_retried_on_the_httpx_path(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"x" * 5000, "busy.bin")
        listed = resource.files["busy.bin"]
        path = server_path(session, listed.uri)
        wire = wire_of(session)
        before = wire.sent
        plan.fail(2, status=503, path=path)  # the wire's try, then httpx's first
        got = listed.download(tmp_path / "busy.bin")
        assert plan.seen("GET", path) == 3
        assert wire.sent == before + 1  # one try on the wire, two on httpx
        assert got.read_bytes() == b"x" * 5000
        upload_path = server_path(session, f"{resource.uri}/files/again.bin")
        plan.fail(1, status=503, path=upload_path)
        resource.upload(b"y" * 10, "again.bin", overwrite=True)  # repeatable
        assert plan.seen("PUT", upload_path) == 2
        assert wire.sent == before + 2


def test_a_body_cut_on_the_wire_is_resumed_with_range(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    source = tmp_path / "cut.bin"
    expected = write_pattern(source, 3 * MIB + 7)
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(source, "cut.bin")
        listed = resource.files["cut.bin"]
        path = server_path(session, listed.uri)
        plan.drop(1, path=path, after_bytes=MIB + 11)
        wire = wire_of(session)
        before = wire.sent
        stats = TransferStats()
        got = transfer.download_file(
            session, listed.uri, tmp_path / "out.bin", expected_md5=listed.digest, stats=stats
        )
        assert wire.sent == before + 1  # the resume goes over httpx
    assert (stats.requests, stats.resumes, stats.restarts) == (2, 1, 0)
    assert stats.bytes_written == 3 * MIB + 7
    assert plan.body_bytes(path) == 3 * MIB + 7  # nothing sent twice
    assert md5_of(got) == expected


def test_an_answer_lost_before_its_headers_is_asked_again_over_httpx(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"lost once", "l.txt")
        listed = resource.files["l.txt"]
        path = server_path(session, listed.uri)
        plan.drop(1, path=path, after_bytes=0)
        wire = wire_of(session)
        before = wire.sent
        assert listed.download(tmp_path / "l.txt").read_bytes() == b"lost once"
        assert plan.seen("GET", path) == 2
        assert wire.sent == before + 1


def test_a_non_repeatable_upload_is_never_handed_over_once_it_may_have_arrived(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    source = tmp_path / "once.bin"
    source.write_bytes(b"once" * 1000)
    with open_session(handle) as session:
        resource = make_resource(session)
        wire = wire_of(session)
        path = server_path(session, f"{resource.uri}/files/once.bin")
        plan.drop(1, path=path, after_bytes=0)
        before = wire.sent
        with pytest.raises(XNATOutcomeUnknownError, match="outcome is unknown"):
            resource.upload(source, "once.bin")
        assert wire.sent == before + 1
        assert plan.seen("PUT", path) == 1  # not repeated
        resource.files.clearcache()
        assert resource.files["once.bin"].read() == source.read_bytes()  # applied once
        with pytest.raises(XNATConflictError):  # an error status: the same typed error
            resource.upload(source, "once.bin")
        assert plan.seen("PUT", path) == 2


def test_verify_false_skips_the_md5_but_not_the_length(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"0123456789" * 100, "c.bin")
        listed = resource.files["c.bin"]
        blob = next(p for p in (handle.data_dir / "blobs").rglob("*") if p.is_file())
        with blob.open("r+b") as stored:  # same length, one byte changed behind the catalog
            stored.seek(500)
            stored.write(b"X")
        with pytest.raises(xnat_sdk.XNATDigestError, match="does not match"):
            listed.download(tmp_path / "checked.bin")
        got = listed.download(tmp_path / "unchecked.bin", verify=False)
        assert got.read_bytes()[500:501] == b"X"
        files = session.download_files([listed], tmp_path / "many", verify=False)
        assert files[0].read_bytes() == got.read_bytes()
        by_path = resource.download("c.bin", tmp_path / "by_path.bin", verify=False)
        assert by_path.read_bytes() == got.read_bytes()
        with pytest.raises(xnat_sdk.XNATDigestError):
            resource.download("c.bin", tmp_path / "by_path_checked.bin")
        (unchecked,) = resource.download_dir(tmp_path / "dir", max_workers=2, verify=False)
        assert unchecked.read_bytes() == got.read_bytes()
        with pytest.raises(parallel.XNATTransferError):
            resource.download_dir(tmp_path / "dir_checked", max_workers=2)
    assert not (tmp_path / "checked.bin").exists()
    assert not (tmp_path / "by_path_checked.bin").exists()
    assert not (tmp_path / "dir_checked" / "c.bin").exists()


def test_the_wire_logs_like_httpx_without_secrets(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handle = xnat_emulator_factory()
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"logged", "log.txt")
        listed = resource.files["log.txt"]
        cookie = session.interface.cookies["JSESSIONID"]
        with caplog.at_level(logging.DEBUG, logger="xnat_sdk"):
            listed.download(tmp_path / "log.txt")
    lines = [record.getMessage() for record in caplog.records]
    assert any(
        line.startswith(f"GET {session.external_url(listed.uri)} -> 200 (") and "lean wire" in line
        for line in lines
    ), lines
    assert not any(cookie in line for line in lines)


def test_without_the_wire_everything_goes_through_httpx(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    with open_session(handle) as session:
        resource = make_resource(session)
        wire = wire_of(session)
        session.file_wire = None
        resource.upload(b"plain", "p.txt")
        assert resource.files["p.txt"].download(tmp_path / "p.txt").read_bytes() == b"plain"
        assert wire.sent == 0


def test_the_wire_sends_the_clients_headers_and_its_hooks_see_it(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    seen: list[tuple[str, str | None, str | None]] = []

    def record(request: httpx.Request) -> None:
        seen.append((request.method, request.headers.get("x-trace"), request.headers.get("cookie")))

    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"traced", "t.txt")
        listed = resource.files["t.txt"]
        wire = wire_of(session)
        before = wire.sent
        session.interface.headers["X-Trace"] = "abc"
        session.interface.event_hooks["request"].append(record)
        listed.download(tmp_path / "t.txt")
        assert wire.sent == before + 1
        cookie = session.interface.cookies["JSESSIONID"]
    (method, trace, sent_cookies), logout = seen  # the wire's GET, then httpx's logout
    assert (method, trace) == ("GET", "abc")
    assert f"JSESSIONID={cookie}" in (sent_cookies or "")
    assert sent_cookies == logout[2]  # the same cookies as httpx sends


def test_a_client_with_its_own_auth_keeps_file_requests_on_httpx(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"authed", "a.txt")
        listed = resource.files["a.txt"]
        wire = wire_of(session)
        before = wire.sent
        session.interface.auth = httpx.BasicAuth(handle.user, handle.password)
        assert listed.download(tmp_path / "a.txt").read_bytes() == b"authed"
        assert wire.sent == before


def test_a_connection_the_server_closed_while_idle_is_not_reused(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    """uvicorn closes keep-alive connections idle for 5 s. A non-repeatable upload sent on
    such a connection would break after sending and be reported as of unknown outcome; the
    wire checks a pooled connection before reusing it."""
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"first", "first.txt")  # leaves a wire connection in the pool
        time.sleep(5.5)
        wire = wire_of(session)
        before = wire.sent
        resource.upload(b"second", "second.txt")  # no overwrite: must not be repeated
        assert wire.sent == before + 1
        assert plan.seen("PUT", server_path(session, f"{resource.uri}/files/second.txt")) == 1
        resource.files.clearcache()
        assert resource.files["second.txt"].read() == b"second"
