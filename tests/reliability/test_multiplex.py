"""Many files over multiplexed keep-alive connections from one thread (``xnat_sdk._multiplex``),
against the emulator over loopback.

``download_files``/``upload_files`` with ``max_workers > 1`` make every file's first try from
one thread over ``max_workers`` connections; whatever that try does not finish plainly (503,
an expired login, a cut body, a wrong md5, a timeout) is handed to the threaded per-file path,
so the final result and the typed errors are those of that path. An upload that must not be
repeated is never handed over once it may have been applied.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from reliability_support import MIB, make_resource, md5_of, open_session, server_path

import xnat_sdk
from xnat_sdk import FileData, parallel
from xnat_sdk._wire import FileWire
from xnat_sdk.emulator.faultplan import FaultSettings
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory, EmulatorHandle
from xnat_sdk.errors import XNATConflictError, XNATDigestError, XNATOutcomeUnknownError
from xnat_sdk.models import AbstractResource

FILES = 60
#: The tests that count open connections read them from Linux's /proc.
needs_proc = pytest.mark.skipif(
    not os.path.exists("/proc/net/tcp"), reason="open connections are counted in /proc/net/tcp"
)
#: Bigger than one receive buffer and one upload read: streamed in pieces both ways.
BIG = 2 * MIB + 12345


def _content(index: int) -> bytes:
    if index == 7:
        return hashlib.sha256(b"big").digest() * (BIG // 32) + b"tail"
    return hashlib.sha256(str(index).encode()).digest() * (40 + 17 * index)


def _uploads(folder: Path, prefix: str, count: int, resource_uri: str) -> list[tuple[Path, str]]:
    """``count`` local files ``{prefix}{index}.bin`` holding ``_content(index)``, each with
    the URI it is uploaded to in the resource."""
    uploads: list[tuple[Path, str]] = []
    for index in range(count):
        path = folder / f"{prefix}{index}.bin"
        path.write_bytes(_content(index))
        uploads.append((path, f"{resource_uri}/files/{path.name}"))
    return uploads


def _name(index: int) -> str:
    return f"d{index % 3}/sub{index % 2}/f{index:03d}.bin"


@pytest.fixture
def emulator(xnat_emulator_factory: EmulatorFactory) -> EmulatorHandle:
    return xnat_emulator_factory()


@pytest.fixture
def session(emulator: EmulatorHandle) -> Iterator[xnat_sdk.XNATSession]:
    with open_session(emulator) as opened:
        yield opened


@pytest.fixture
def contents() -> dict[str, bytes]:
    return {_name(index): _content(index) for index in range(FILES)}


@pytest.fixture
def filled(
    session: xnat_sdk.XNATSession, contents: dict[str, bytes], tmp_path: Path
) -> AbstractResource:
    """A resource holding ``contents``, uploaded by the multiplexed pass itself (checked
    against the server's own md5s)."""
    resource = make_resource(session)
    source = tmp_path / "source"
    for name, data in contents.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    parallel.upload_tree(session, resource.uri, source, max_workers=6)
    listed = resource.files
    assert {name: listed[name].digest for name in contents} == {
        name: hashlib.md5(data).hexdigest() for name, data in contents.items()
    }
    return resource


def _wire(session: xnat_sdk.XNATSession) -> FileWire:
    wire = session.file_wire
    assert wire is not None, "the session has no lean wire (is a proxy set in the environment?)"
    return wire


def _open_connections(port: int) -> int:
    """Established TCP connections of this machine to ``port`` (the emulator runs in this
    process, so its side of each connection is not counted: only remote port ``port``)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if remote_port == port and fields[3] == "01":  # 01: ESTABLISHED
                    count += 1
    return count


def _port(handle: EmulatorHandle) -> int:
    return httpx.URL(handle.url).port or 80


def _files_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _multiplexed_lines(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if "multiplexed" in r.getMessage()]


@needs_proc
def test_many_files_arrive_identical_verified_in_order_each_asked_once(
    emulator: EmulatorHandle,
    session: xnat_sdk.XNATSession,
    filled: AbstractResource,
    contents: dict[str, bytes],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    plan = emulator.emulator.faults
    files = list(filled.files.values())
    files.reverse()  # not the server's order: the result must follow ``files``
    out = tmp_path / "out"
    calls: list[tuple[int, int | None, bool]] = []
    wire = _wire(session)
    sent, open_before = wire.sent, _open_connections(_port(emulator))
    with caplog.at_level(logging.DEBUG, logger="xnat_sdk"):
        paths = parallel.download_files(
            session,
            files,
            out,
            max_workers=5,
            update_func=lambda done, total, finished: calls.append((done, total, finished)),
        )
    assert paths == [out / file.path for file in files]
    assert _files_tree(out) == contents  # byte-identical, and no partial file beside them
    for file in files:
        assert plan.seen("GET", server_path(session, file.uri)) == 1
    assert wire.sent == sent + FILES
    assert len(_multiplexed_lines(caplog.records)) == FILES
    total = sum(len(data) for data in contents.values())
    assert calls[-1] == (total, total, True)
    assert [done for done, _, _ in calls] == sorted(done for done, _, _ in calls)
    assert sum(finished for _, _, finished in calls) == 1
    assert _open_connections(_port(emulator)) == open_before  # its connections are closed
    cookie = session.interface.cookies.get("JSESSIONID")
    assert cookie and cookie not in caplog.text


def test_verify_false_skips_the_md5_and_a_wrong_md5_fails_only_its_file(
    emulator: EmulatorHandle,
    session: xnat_sdk.XNATSession,
    filled: AbstractResource,
    contents: dict[str, bytes],
    tmp_path: Path,
) -> None:
    plan = emulator.emulator.faults
    files = list(filled.files.values())[:10]
    wrong = FileData(session, files[4].uri, path=files[4].path, digest="0" * 32)
    chosen = [*files[:4], wrong, *files[5:]]
    unverified = session.download_files(chosen, tmp_path / "fast", max_workers=4, verify=False)
    assert [p.read_bytes() for p in unverified] == [contents[f.path] for f in chosen]
    out = tmp_path / "checked"
    with pytest.raises(parallel.XNATTransferError) as caught:
        session.download_files(chosen, out, max_workers=4)
    target = str(out / wrong.path)
    assert list(caught.value.failures) == [target]
    assert isinstance(caught.value.failures[target], XNATDigestError)
    assert sorted(caught.value.completed) == sorted(
        str(out / f.path) for f in files if f != files[4]
    )
    assert _files_tree(out) == {f.path: contents[f.path] for f in chosen if f is not wrong}
    # asked once by each pass, then again by the threaded path, which decides
    assert plan.seen("GET", server_path(session, wrong.uri)) == 3


def test_a_503_is_retried_by_the_threaded_path_after_the_servers_pause(
    emulator: EmulatorHandle,
    session: xnat_sdk.XNATSession,
    filled: AbstractResource,
    contents: dict[str, bytes],
    tmp_path: Path,
) -> None:
    plan = emulator.emulator.faults
    files = list(filled.files.values())
    busy = server_path(session, files[3].uri)
    plan.fail(1, status=503, path=busy, retry_after="1")
    plan.fail(1, status=503, path=busy)
    started = time.monotonic()
    session.download_files(files, tmp_path / "out", max_workers=4)
    assert time.monotonic() - started >= 1.0  # Retry-After honoured before the next try
    assert _files_tree(tmp_path / "out") == contents
    assert plan.seen("GET", busy) == 3  # multiplexed try, then two on the httpx path
    assert plan.injected() == {"fail": 2}


def test_a_body_cut_midway_leaves_nothing_and_is_fetched_again(
    emulator: EmulatorHandle,
    session: xnat_sdk.XNATSession,
    filled: AbstractResource,
    contents: dict[str, bytes],
    tmp_path: Path,
) -> None:
    plan = emulator.emulator.faults
    files = list(filled.files.values())
    big = next(f for f in files if f.path == _name(7))
    cut = server_path(session, big.uri)
    plan.drop(1, path=cut, after_bytes=MIB + 3)
    session.download_files(files, tmp_path / "out", max_workers=3)
    assert _files_tree(tmp_path / "out") == contents
    assert plan.seen("GET", cut) == 2
    assert plan.injected() == {"drop": 1}


def test_an_expired_login_is_renewed_by_the_threaded_path(
    xnat_emulator_factory: EmulatorFactory, contents: dict[str, bytes], tmp_path: Path
) -> None:
    lifetime = 1.0
    handle = xnat_emulator_factory(faults=FaultSettings(session_lifetime=lifetime))
    with open_session(handle) as session:
        resource = make_resource(session)
        for name in list(contents)[:12]:
            resource.upload(contents[name], name)
        files = list(resource.files.values())
        time.sleep(lifetime + 0.3)
        logins = session.logins
        paths = session.download_files(files, tmp_path / "out", max_workers=4)
        assert session.logins == logins + 1  # one renewal, shared
        assert [p.read_bytes() for p in paths] == [contents[f.path] for f in files]
        time.sleep(lifetime + 0.3)
        source = tmp_path / "again"
        for index in range(6):
            (source / f"u{index}.bin").parent.mkdir(parents=True, exist_ok=True)
            (source / f"u{index}.bin").write_bytes(_content(index))
        parallel.upload_tree(session, resource.uri, source, max_workers=3)  # not repeatable
        assert session.logins == logins + 2
        plan = handle.emulator.faults
        for index in range(6):
            path = server_path(session, f"{resource.uri}/files/u{index}.bin")
            assert 1 <= plan.seen("PUT", path) <= 3  # a 401 left it unapplied: sent again
        resource.files.clearcache()
        assert all(resource.files[f"u{i}.bin"].read() == _content(i) for i in range(6))


def test_a_stalled_answer_times_out_and_is_fetched_again(
    emulator: EmulatorHandle,
    filled: AbstractResource,
    contents: dict[str, bytes],
    tmp_path: Path,
) -> None:
    plan = emulator.emulator.faults
    quick = httpx.Timeout(10.0, read=0.5)
    with xnat_sdk.connect(
        emulator.url, emulator.user, emulator.password, keepalive=None, timeout=quick
    ) as session:
        files = [
            FileData(session, f.uri, path=f.path, size=f.size, digest=f.digest)
            for f in filled.files.values()
        ]
        slow = server_path(session, files[2].uri)
        plan.delay(2.0, path=slow)
        started = time.monotonic()
        session.download_files(files, tmp_path / "out", max_workers=4)
        assert time.monotonic() - started < 2.0  # not waited for
    assert _files_tree(tmp_path / "out") == contents
    assert plan.seen("GET", slow) == 2


def test_targets_that_exist_are_replaced_and_new_folders_made(
    session: xnat_sdk.XNATSession,
    filled: AbstractResource,
    contents: dict[str, bytes],
    tmp_path: Path,
) -> None:
    out = tmp_path / "deep" / "er"
    files = list(filled.files.values())
    (out / files[0].path).parent.mkdir(parents=True)
    (out / files[0].path).write_bytes(b"stale")
    session.download_files(files, out, max_workers=2)
    assert _files_tree(out) == contents


def test_one_file_or_one_worker_goes_the_threaded_way(
    session: xnat_sdk.XNATSession,
    filled: AbstractResource,
    contents: dict[str, bytes],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = list(filled.files.values())[:5]
    with caplog.at_level(logging.DEBUG, logger="xnat_sdk"):
        session.download_files(files[:1], tmp_path / "one", max_workers=4)
        session.download_files(files, tmp_path / "serial", max_workers=1)
    assert not _multiplexed_lines(caplog.records)
    assert _files_tree(tmp_path / "serial") == {f.path: contents[f.path] for f in files}


def test_an_upload_that_must_not_be_repeated_is_reported_unknown_when_its_answer_is_lost(
    emulator: EmulatorHandle, session: xnat_sdk.XNATSession, tmp_path: Path
) -> None:
    plan = emulator.emulator.faults
    resource = make_resource(session)
    uploads = _uploads(tmp_path, "u", 8, resource.uri)
    lost = server_path(session, uploads[2][1])
    plan.drop(1, path=lost, after_bytes=0)
    with pytest.raises(parallel.XNATTransferError) as caught:
        parallel.upload_files(session, uploads, max_workers=3)
    failure = caught.value.failures[uploads[2][1]]
    assert isinstance(failure, XNATOutcomeUnknownError)
    assert list(caught.value.failures) == [uploads[2][1]]
    assert plan.seen("PUT", lost) == 1  # not repeated
    resource.files.clearcache()
    stored = resource.files
    assert stored["u2.bin"].read() == _content(2)  # the server applied it, once
    assert set(caught.value.completed) <= {uri for _p, uri in uploads} - {uploads[2][1]}
    for name in stored.keys():
        assert stored[name].read() == (tmp_path / name).read_bytes()


def test_overwriting_uploads_are_repeated_after_a_lost_answer_and_stored_once(
    emulator: EmulatorHandle, session: xnat_sdk.XNATSession, tmp_path: Path
) -> None:
    plan = emulator.emulator.faults
    resource = make_resource(session)
    uploads = _uploads(tmp_path, "o", 10, resource.uri)
    parallel.upload_files(session, uploads, max_workers=4)
    for path, _uri in uploads:
        path.write_bytes(path.read_bytes()[::-1])  # new content, same names
    with pytest.raises(parallel.XNATTransferError) as refused:
        parallel.upload_files(session, uploads, max_workers=4)  # no overwrite: 409s
    assert all(isinstance(e, XNATConflictError) for e in refused.value.failures.values())
    lost = server_path(session, uploads[7][1])
    plan.drop(1, path=lost, after_bytes=0)
    parallel.upload_files(session, uploads, overwrite=True, max_workers=4)
    assert plan.seen("PUT", lost) >= 2
    resource.files.clearcache()
    stored = resource.files
    assert sorted(stored.keys()) == sorted(p.name for p, _uri in uploads)
    assert all(stored[p.name].digest == md5_of(p) for p, _uri in uploads)


@needs_proc
@pytest.mark.parametrize("raised", [RuntimeError, KeyboardInterrupt])
def test_a_failing_progress_callback_leaves_no_partial_file_and_no_connection(
    emulator: EmulatorHandle,
    session: xnat_sdk.XNATSession,
    filled: AbstractResource,
    tmp_path: Path,
    raised: type[BaseException],
) -> None:
    files = list(filled.files.values())
    calls = 0

    def update(_done: int, _total: int | None, _finished: bool) -> None:
        nonlocal calls
        calls += 1
        if calls == 10:
            raise raised("stop here")

    out = tmp_path / "out"
    open_before = _open_connections(_port(emulator))
    if raised is RuntimeError:  # the file's failure: named, the others finished or not begun
        with pytest.raises(parallel.XNATTransferError) as caught:
            parallel.download_files(session, files, out, max_workers=4, update_func=update)
        (error,) = caught.value.failures.values()
        assert isinstance(error, RuntimeError)
        written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
        assert written == {Path(c).relative_to(out).as_posix() for c in caught.value.completed}
    else:
        with pytest.raises(KeyboardInterrupt):
            parallel.download_files(session, files, out, max_workers=4, update_func=update)
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    assert _open_connections(_port(emulator)) == open_before


@needs_proc
def test_uploads_close_their_connections(
    emulator: EmulatorHandle, session: xnat_sdk.XNATSession, tmp_path: Path
) -> None:
    resource = make_resource(session)
    uploads = _uploads(tmp_path, "c", 12, resource.uri)
    open_before = _open_connections(_port(emulator))
    parallel.upload_files(session, uploads)
    assert _open_connections(_port(emulator)) == open_before
    stored = resource.files
    assert {name: stored[name].digest for name in stored.keys()} == {
        p.name: md5_of(p) for p, _uri in uploads
    }


def test_a_server_gone_gives_the_threaded_paths_typed_error(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    with open_session(handle) as session:
        resource = make_resource(session)
        for index in range(4):
            resource.upload(_content(index), f"g{index}.bin")
        files = list(resource.files.values())
        handle.emulator.stop()  # nothing listens any more: every connection is refused
        with pytest.raises(parallel.XNATTransferError) as caught:
            session.download_files(files, tmp_path / "out", max_workers=3)
    assert all(isinstance(e, xnat_sdk.XNATConnectionError) for e in caught.value.failures.values())
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_a_target_that_is_a_folder_fails_as_on_the_threaded_path(
    session: xnat_sdk.XNATSession, filled: AbstractResource, tmp_path: Path
) -> None:
    files = list(filled.files.values())[:6]
    out = tmp_path / "out"
    (out / files[2].path / "inside").mkdir(parents=True)
    with pytest.raises(parallel.XNATTransferError) as caught:
        session.download_files(files, out, max_workers=3)
    assert list(caught.value.failures) == [str(out / files[2].path)]
    assert isinstance(caught.value.__cause__, OSError)
    assert (out / files[2].path / "inside").is_dir()  # untouched
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
