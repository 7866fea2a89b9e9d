"""How the multiplexed pass (``xnat_sdk._multiplex``) reads answers the emulator never sends:
heads and bodies split into small pieces, interim 100 answers, ``Connection: close``, chunked
bodies, a body cut short, bytes beyond the body, a cookie set by an answer.

A scripted HTTP/1.1 server on loopback (a real socket server, not a mock: the emulator cannot
produce these on demand) answers each path its own way.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from xnat_sdk import _multiplex
from xnat_sdk._http import HttpTransport, RetryPolicy
from xnat_sdk._wire import FileWire

BODY = bytes(range(256)) * 40 + b"end"


def _ok(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra, "", ""]
    return "\r\n".join(head).encode() + body


#: path -> (answer bytes, size of each piece written, close the connection afterwards)
SCRIPT: dict[str, tuple[bytes, int, bool]] = {
    "/plain": (_ok(BODY), 1 << 20, False),
    "/split": (b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(BODY, "X-Folded: a", " b"), 7, False),
    "/close": (_ok(BODY, "Connection: close"), 1 << 20, True),
    "/chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        1 << 20,
        False,
    ),
    "/short": (_ok(BODY)[:-100], 1 << 20, True),
    "/extra": (_ok(BODY) + b"garbage", 1 << 20, False),
    "/cookie": (_ok(BODY, "Set-Cookie: flavour=oat; Path=/"), 1 << 20, False),
    "/missing": (b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope", 1 << 20, False),
}


@dataclass
class Scripted:
    url: str
    connections: list[int]  # how many requests each accepted connection carried


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    served = Scripted(f"http://127.0.0.1:{port}", [])
    stop = threading.Event()

    def serve(conn: socket.socket, slot: int) -> None:
        pending = b""
        with conn:
            while not stop.is_set():
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                head, _, pending = pending.partition(b"\r\n\r\n")
                path = head.split(b" ")[1].decode()
                served.connections[slot] += 1
                answer, piece, close = SCRIPT[path]
                for start in range(0, len(answer), piece):
                    conn.sendall(answer[start : start + piece])
                    if piece < 100:
                        time.sleep(0.001)
                if close:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            served.connections.append(0)
            slot = len(served.connections) - 1
            threading.Thread(target=serve, args=(conn, slot), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield served
    stop.set()
    listener.close()


def _download(url: str, paths: list[str], folder: Path) -> tuple[_multiplex.Outcome, FileWire]:
    transport = HttpTransport(url, logger=logging.getLogger("xnat_sdk.test.multiplex"))
    wire = FileWire(transport)
    items = [
        _multiplex.DownloadItem(index, path, folder / f"{index}{path.replace('/', '_')}", None)
        for index, path in enumerate(paths)
    ]
    return _multiplex.download(wire, RetryPolicy(), items, 2), wire


def test_pieces_interim_answers_and_closing_servers_are_read_right(
    scripted: Scripted, tmp_path: Path
) -> None:
    paths = ["/plain", "/split", "/close", "/plain", "/split", "/close", "/plain"]
    outcome, _wire = _download(scripted.url, paths, tmp_path)
    assert outcome.done == set(range(len(paths)))
    assert not outcome.handed_over and not outcome.errors
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{i}{p.replace('/', '_')}" for i, p in enumerate(paths)
    )
    assert all(p.read_bytes() == BODY for p in tmp_path.iterdir())
    # each file asked once; two connections, one opened again after an answer that closed it
    # (when more files were left for it)
    assert sum(scripted.connections) == len(paths)
    assert 2 < len(scripted.connections) <= 2 + paths.count("/close")


def test_what_it_does_not_read_plainly_is_handed_over_and_leaves_nothing(
    scripted: Scripted, tmp_path: Path
) -> None:
    paths = ["/chunked", "/short", "/missing", "/plain", "/extra", "/plain"]
    outcome, _wire = _download(scripted.url, paths, tmp_path)
    assert outcome.handed_over == {0: 0.0, 1: 0.0, 2: 0.0}
    assert outcome.done == {3, 4, 5}  # bytes beyond a body: the file is whole, the link closed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3_plain", "4_extra", "5_plain"]


def test_a_cookie_set_by_an_answer_is_kept_in_the_sessions_jar(
    scripted: Scripted, tmp_path: Path
) -> None:
    outcome, wire = _download(scripted.url, ["/cookie", "/plain"], tmp_path)
    assert outcome.done == {0, 1}
    head = wire.request_head("GET", "/plain")
    assert head is not None and b"Cookie: flavour=oat" in head


def test_a_server_that_refuses_connections_leaves_every_file_untried(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again: nothing listens there now
    started = time.monotonic()
    outcome, _wire = _download(f"http://127.0.0.1:{port}", ["/plain"] * 5, tmp_path)
    assert time.monotonic() - started < 5
    assert not outcome.done and not outcome.handed_over and not outcome.errors
    assert not list(tmp_path.iterdir())
