"""What the emulator cannot produce on demand yet: redirects, 5xx bursts and failures.

A small real HTTP server on loopback (``http.server``) plays just enough of XNAT (login, auth
check, logout) and then misbehaves on purpose; the client talks to it over real sockets.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

import xnat_sdk
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle


class Misbehaving(BaseHTTPRequestHandler):
    """Answers the login sequence, then per path: 503 twice, 500 always, or a redirect."""

    hits: ClassVar[Counter[str]] = Counter()
    redirect_to: ClassVar[str] = ""

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def _answer(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        key = f"{self.command} {self.path.split('?')[0]}"
        self.hits[key] += 1
        if key == "GET /" and self.redirect_to:
            self._answer(302, headers={"Location": self.redirect_to})
        elif key in ("GET /", "DELETE /data/JSESSION"):
            self._answer(200)
        elif key == "PUT /data/services/auth":
            self._answer(200, "0123456789ABCDEF", {"Set-Cookie": "JSESSIONID=0123456789ABCDEF"})
        elif key == "GET /data/auth":
            self._answer(200, "User 'tester' is logged in")
        elif key.endswith("/data/flaky"):
            ok = self.hits[key] > 2
            self._answer(200 if ok else 503, "fine" if ok else "busy")
        elif key.endswith("/data/broken"):
            self._answer(500, "<html><body><h3>NullPointerException in handler</h3></body></html>")
        else:
            self._answer(404, "not here")

    do_GET = do_PUT = do_POST = do_DELETE = _route


@pytest.fixture
def misbehaving() -> Iterator[tuple[str, type[Misbehaving]]]:
    handler = type("Handler", (Misbehaving,), {"hits": Counter(), "redirect_to": ""})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}", handler
    server.shutdown()
    server.server_close()


def _connect(url: str) -> xnat_sdk.XNATSession:
    retry = xnat_sdk.RetryPolicy(attempts=3, backoff=0.01)
    return xnat_sdk.connect(url, "tester", "pw", keepalive=None, retry=retry)


def test_503_bursts_are_retried_for_idempotent_requests(
    misbehaving: tuple[str, type[Misbehaving]],
) -> None:
    url, handler = misbehaving
    with _connect(url) as session:
        assert session.get("/data/flaky").text == "fine"
    assert handler.hits["GET /data/flaky"] == 3


def test_post_is_never_retried(misbehaving: tuple[str, type[Misbehaving]]) -> None:
    url, handler = misbehaving
    with _connect(url) as session, pytest.raises(xnat_sdk.XNATServerError) as caught:
        session.post("/data/flaky", data={"a": "1"})
    assert caught.value.status_code == 503
    assert handler.hits["POST /data/flaky"] == 1


def test_server_error_carries_the_servers_message(
    misbehaving: tuple[str, type[Misbehaving]],
) -> None:
    url, handler = misbehaving
    with _connect(url) as session, pytest.raises(xnat_sdk.XNATServerError) as caught:
        session.get("/data/broken")
    assert caught.value.message == "NullPointerException in handler"
    assert "500" in str(caught.value) and "/data/broken" in str(caught.value)
    assert handler.hits["GET /data/broken"] == 1  # 500 is not a transient status


def test_redirect_is_detected_once_and_used_afterwards(
    misbehaving: tuple[str, type[Misbehaving]], xnat_emulator: EmulatorHandle
) -> None:
    url, handler = misbehaving
    handler.redirect_to = f"{xnat_emulator.url}/app/template/Login.vm"
    with xnat_sdk.connect(
        url, xnat_emulator.user, xnat_emulator.password, keepalive=None
    ) as session:
        assert session.server == xnat_emulator.url
        assert session.original_uri == url
        assert session.logged_in_user == xnat_emulator.user
        assert session.get("/data/version").status_code == 200
    assert handler.hits["GET /"] == 1
    assert handler.hits["PUT /data/services/auth"] == 0  # login went to the real target
