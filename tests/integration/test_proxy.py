"""Behind an HTTP proxy named by the environment (``HTTP_PROXY``, as requests and xnatpy
honour it), every request of the sync and async clients goes through the proxy, files
included (the lean wire stays off there); ``NO_PROXY`` sends them direct again."""

from __future__ import annotations

import asyncio
import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

import pytest

import xnat_sdk
from xnat_sdk.aio import connect_async
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te"}


class ForwardingProxy(ThreadingHTTPServer):
    """A plain-http forward proxy: takes absolute-form requests, sends them on, answers with
    the origin's answer; ``seen`` lists ``(method, absolute URL)`` of what passed."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Relay)
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def relay(self) -> None:
        proxy = cast("ForwardingProxy", self.server)
        with proxy.lock:
            proxy.seen.append((self.command, self.path))
        target = urlsplit(self.path)  # absolute form: a request meant for a proxy
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        origin = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
        try:
            path = target.path + (f"?{target.query}" if target.query else "")
            origin.request(self.command, path, body=body, headers=headers)
            answer = origin.getresponse()
            content = answer.read()
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        finally:
            origin.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

    def log_message(self, format: str, *args: object) -> None:  # quiet: tests print nothing
        pass


@pytest.fixture
def proxy() -> Iterator[ForwardingProxy]:
    server = ForwardingProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_sync_client_and_its_files_go_through_the_proxy(
    xnat_emulator: EmulatorHandle,
    proxy: ForwardingProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    content = b"through the proxy\n" * 100
    with xnat_sdk.connect(
        xnat_emulator.url, xnat_emulator.user, xnat_emulator.password, keepalive=None
    ) as session:
        assert session.file_wire is None  # files take the httpx path, which uses the proxy
        resource = session.projects.create("PRX").subjects.create("S1").create_resource("R")
        resource.upload(content, "a.txt")
        assert [p.id for p in session.projects] == ["PRX"]
        written = resource.files["a.txt"].download(tmp_path / "a.txt")
        assert written.read_bytes() == content
    seen = {(method, urlsplit(url).path) for method, url in proxy.seen}
    assert ("GET", "/data/projects") in seen
    file_requests = {method for method, path in seen if path.endswith("/files/a.txt")}
    assert file_requests == {"PUT", "GET"}
    assert all(url.startswith(xnat_emulator.url) for _, url in proxy.seen)


def test_the_async_client_goes_through_the_proxy(
    xnat_emulator: EmulatorHandle, proxy: ForwardingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)

    async def listed() -> list[str | None]:
        async with await connect_async(
            xnat_emulator.url, xnat_emulator.user, xnat_emulator.password
        ) as session:
            return [project.id async for project in session.projects]

    assert asyncio.run(listed()) == []
    assert ("GET", "/data/projects") in {(m, urlsplit(u).path) for m, u in proxy.seen}


def test_no_proxy_sends_requests_direct(
    xnat_emulator: EmulatorHandle, proxy: ForwardingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with xnat_sdk.connect(
        xnat_emulator.url, xnat_emulator.user, xnat_emulator.password, keepalive=None
    ) as session:
        assert session.file_wire is not None
        assert list(session.projects) == []
    assert proxy.seen == []
