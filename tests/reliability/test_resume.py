"""Downloads under dropped connections: resumed with Range, verified, never half-written.

The emulator cuts connections for real (after N body bytes, on loopback); the server that
ignores or misanswers Range is a small ``http.server`` because the emulator, like XNAT, answers
Range correctly.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import httpx
import pytest
from reliability_support import (
    MIB,
    make_resource,
    md5_of,
    open_session,
    report,
    write_pattern,
)

import xnat_sdk
from xnat_sdk import transfer
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory
from xnat_sdk.transfer import TransferStats


def _server_path(session: xnat_sdk.XNATSession, uri: str) -> str:
    return urlsplit(session.external_url(uri)).path


def test_200_mb_download_survives_dropped_connections(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    size = 200 * MIB
    handle = xnat_emulator_factory()
    source = tmp_path / "big.bin"
    expected = write_pattern(source, size)
    out_dir = tmp_path / "out"
    stats = TransferStats()
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(source, "big.bin")
        source.unlink()  # keep the disk footprint down
        listed = resource.files["big.bin"]
        assert listed.digest == expected
        path = _server_path(session, listed.uri)
        faults = handle.emulator.faults
        # Three cuts, each 45 MiB into its response: 45, 90 and 135 MiB into the file.
        faults.drop(3, path=path, after_bytes=45 * MIB)
        tracemalloc.start()
        try:
            target = transfer.download_file(
                session, listed.uri, out_dir / "big.bin", expected_md5=listed.digest, stats=stats
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    sent = faults.body_bytes(path)
    assert faults.injected().get("drop") == 3
    assert (stats.requests, stats.resumes, stats.restarts) == (4, 3, 0)
    assert stats.bytes_written == size == target.stat().st_size
    assert size <= sent < 1.3 * size, f"the server sent {sent} bytes for {size}"
    assert stats.bytes_received <= sent
    assert peak < 32 * MIB, f"memory peaked at {peak} bytes"
    assert md5_of(target) == expected
    assert [p.name for p in out_dir.iterdir()] == ["big.bin"]  # no temporary file left
    report(
        "200 MB download",
        size=size,
        server_sent=sent,
        resent=sent - size,
        drops=3,
        requests=stats.requests,
        resumes=stats.resumes,
        peak_memory=peak,
    )


def test_resumed_download_with_wrong_digest_leaves_no_file(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    source = tmp_path / "mid.bin"
    write_pattern(source, 3 * MIB)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(source, "mid.bin")
        listed = resource.files["mid.bin"]
        handle.emulator.faults.drop(1, path=_server_path(session, listed.uri), after_bytes=MIB)
        with pytest.raises(xnat_sdk.XNATDigestError, match="md5"):
            transfer.download_file(session, listed.uri, out_dir / "mid.bin", expected_md5="0" * 32)
    assert list(out_dir.iterdir()) == []


def test_resume_survives_a_login_that_expired_while_the_connection_was_down(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    size = 12 * MIB
    handle = xnat_emulator_factory()
    source = tmp_path / "mid.bin"
    expected = write_pattern(source, size)
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(source, "mid.bin")
        uri = resource.files["mid.bin"].uri
        path = _server_path(session, uri)
    # From now on a login lasts 0.3 s (set over HTTP, as an admin would).
    admin = httpx.Client(base_url=handle.url, auth=(handle.user, handle.password))
    lifetime = {"kind": "random", "session_lifetime": 0.3}
    assert admin.put("/xapi/emulator/faults", json=lifetime).status_code == 200
    faults = handle.emulator.faults
    faults.drop(1, path=path, after_bytes=5 * MIB)  # the first answer is cut...
    faults.delay(0.5, 1, path=path)  # ...and the resume arrives after the login ended
    stats = TransferStats()
    with open_session(handle) as session:
        target = transfer.download_file(
            session, uri, tmp_path / "out.bin", expected_md5=expected, stats=stats
        )
        renewals = session.logins - 1
    assert md5_of(target) == expected
    assert renewals == 1 and handle.emulator.expired_sessions >= 1
    assert (stats.requests, stats.resumes, stats.restarts) == (2, 1, 0)
    # Every byte of the file once, plus the small 401 page that asked for the renewal.
    assert size < faults.body_bytes(path) < size + 1024


def test_corrupted_file_on_the_server_is_caught_by_the_catalog_digest(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"A" * 10_000, "data.bin")
        # Flip the stored bytes behind the catalog's back (same length, other content).
        blobs = [p for p in (handle.data_dir / "blobs").rglob("*") if p.is_file()]
        stored = next(p for p in blobs if p.read_bytes() == b"A" * 10_000)
        stored.write_bytes(b"B" * 10_000)
        out_dir = tmp_path / "out"
        out_dir.mkdir()
        with pytest.raises(xnat_sdk.XNATDigestError, match="does not match"):
            resource.files["data.bin"].download(out_dir / "data.bin")
    assert list(out_dir.iterdir()) == []


def test_download_gives_up_when_no_progress_is_made(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"x" * 100_000, "stuck.bin")
        listed = resource.files["stuck.bin"]
        path = _server_path(session, listed.uri)
        handle.emulator.faults.drop(100, path=path, after_bytes=0)  # never a byte
        with pytest.raises(xnat_sdk.XNATConnectionError, match="without progress"):
            transfer.download_file(session, listed.uri, out_dir / "stuck.bin")
        # attempts bound the tries: 1 first request + 5 more (QUICK allows 6 in a row)
        assert handle.emulator.faults.seen("GET", path) == 6
    assert list(out_dir.iterdir()) == []


# -- servers that answer Range badly ------------------------------------------------------


class RangeTrouble(BaseHTTPRequestHandler):
    """Logs in like XNAT, then serves ``/data/file``: the first answer is cut halfway; later
    ones ignore Range (``mode = "ignore"``) or answer the wrong part (``mode = "wrong"``)."""

    body: ClassVar[bytes] = bytes(range(256)) * 4096  # 1 MiB
    mode: ClassVar[str] = "ignore"
    ranges: ClassVar[list[str | None]] = []
    validators: ClassVar[list[str | None]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/data/auth":
            self._answer(200, b"User 'tester' is logged in")
        elif path == "/data/file":
            self._serve_file()
        else:
            self._answer(200, b"")

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(200, b"SESSION", {"Set-Cookie": "JSESSIONID=SESSION"})

    do_DELETE = do_GET

    def _serve_file(self) -> None:
        wanted = self.headers.get("Range")
        self.ranges.append(wanted)
        self.validators.append(self.headers.get("If-Range"))
        body = self.body
        if len(self.ranges) == 1:  # promise everything, send half, hang up
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", '"v1"')
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        elif wanted is not None and self.mode == "wrong":
            part = body[100:]  # not where the client stopped
            self._answer(206, part, {"Content-Range": f"bytes 100-{len(body) - 1}/{len(body)}"})
        else:
            self._answer(200, body, {"ETag": '"v1"'})


@pytest.fixture
def trouble() -> Iterator[tuple[str, type[RangeTrouble]]]:
    handler = type("Handler", (RangeTrouble,), {"ranges": [], "validators": [], "mode": "ignore"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}", handler
    server.shutdown()
    server.server_close()


def _connect(url: str) -> xnat_sdk.XNATSession:
    return xnat_sdk.connect(url, "tester", "pw", keepalive=None, retry=2)


@pytest.mark.parametrize("mode", ["ignore", "wrong"])
def test_server_that_misanswers_range_gets_a_fresh_start(
    trouble: tuple[str, type[RangeTrouble]], tmp_path: Path, mode: str
) -> None:
    url, handler = trouble
    handler.mode = mode
    stats = TransferStats()
    with _connect(url) as session:
        target = transfer.download_file(session, "/data/file", tmp_path / "f.bin", stats=stats)
    assert target.read_bytes() == handler.body  # never the wrong bytes appended
    half = len(handler.body) // 2
    assert handler.ranges[:2] == [None, f"bytes={half}-"]
    assert stats.restarts == 1 and stats.resumes == 0
    # "wrong" needs one more request: the misplaced part is discarded, the whole body asked for
    assert stats.requests == (2 if mode == "ignore" else 3)
    if mode == "wrong":
        assert handler.ranges[2] is None


def test_resume_asks_for_the_same_version_with_if_range(
    trouble: tuple[str, type[RangeTrouble]], tmp_path: Path
) -> None:
    url, handler = trouble
    with _connect(url) as session:
        transfer.download_file(session, "/data/file", tmp_path / "f.bin")
    assert handler.validators[:2] == [None, '"v1"']  # the ETag of the first answer


def test_unrewindable_target_cannot_restart(
    trouble: tuple[str, type[RangeTrouble]],
) -> None:
    url, _handler = trouble

    class OneWay:
        """A sink that only appends (like a pipe)."""

        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, chunk: bytes) -> int:
            self.data += chunk
            return len(chunk)

        def seekable(self) -> bool:
            return False

    sink = OneWay()
    with (
        _connect(url) as session,
        pytest.raises(xnat_sdk.XNATConnectionError, match="cannot be rewound"),
    ):
        transfer.download_stream(session, "/data/file", sink)  # type: ignore[arg-type]  # a duck-typed sink
    assert len(sink.data) == len(RangeTrouble.body) // 2  # nothing appended after the cut
