"""The lean wire's rules that need no server: when it may be used (proxies), how it addresses
a file (as httpx would), which TLS checks it makes, and how its failures map onto the httpx
exception types that ``_http``'s retry and no-repeat decisions read."""

from __future__ import annotations

import http.client
import io
import logging
import socket
import ssl
import threading
import time

import httpx
import pytest

from xnat_sdk import transfer
from xnat_sdk._http import HttpTransport, proxy_applies, transport_failure
from xnat_sdk._wire import FileWire, tls_context, transport_error
from xnat_sdk.errors import XNATConnectionError, XNATDigestError, XNATOutcomeUnknownError

LOOPBACK = "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("url", "environ", "applies"),
    [
        (LOOPBACK, {}, False),
        (LOOPBACK, {"HTTP_PROXY": "http://proxy:3128"}, True),
        (LOOPBACK, {"http_proxy": "http://proxy:3128"}, True),
        (LOOPBACK, {"HTTPS_PROXY": "http://proxy:3128"}, False),  # another scheme's proxy
        ("https://xnat.example.org", {"HTTPS_PROXY": "http://proxy:3128"}, True),
        ("https://xnat.example.org", {"ALL_PROXY": "socks5://proxy:1080"}, True),
        (LOOPBACK, {"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1"}, False),
        (LOOPBACK, {"HTTP_PROXY": "http://p:1", "NO_PROXY": "*"}, False),
        (LOOPBACK, {"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1:8080"}, False),
        (LOOPBACK, {"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1:9999"}, True),
        (LOOPBACK, {"HTTP_PROXY": "http://p:1", "NO_PROXY": "localhost, 10.0.0.1"}, True),
        (
            "https://a.example.org/xnat",
            {"https_proxy": "http://p:1", "no_proxy": ".example.org"},
            False,
        ),
        ("https://a.example.org", {"https_proxy": "http://p:1", "no_proxy": "example.org"}, False),
        (
            "https://example.org.evil",
            {"https_proxy": "http://p:1", "no_proxy": "example.org"},
            True,
        ),
        (LOOPBACK, {"HTTP_PROXY": ""}, False),  # set but empty: no proxy
    ],
)
def test_a_proxy_in_the_environment_keeps_requests_on_httpx(
    url: str, environ: dict[str, str], applies: bool
) -> None:
    assert proxy_applies(url, environ) is applies


def transport_for(server: str) -> HttpTransport:
    return HttpTransport(server, logger=logging.getLogger("test_wire_rules"))


def test_no_wire_is_made_where_a_proxy_applies() -> None:
    transport = transport_for(LOOPBACK)
    try:
        assert FileWire.for_transport(transport, {"HTTP_PROXY": "http://proxy:3128"}) is None
        assert isinstance(FileWire.for_transport(transport, {}), FileWire)
    finally:
        transport.close()


def test_the_request_target_is_what_httpx_would_send() -> None:
    transport = transport_for("http://127.0.0.1:8080/xnat")
    try:
        wire = FileWire(transport)
        cases: list[tuple[str, tuple[tuple[str, str], ...]]] = [
            ("/data/files/f00001.dat", ()),
            ("/data/files/with space ü.dat", ()),
            ("/data/files/a.dat", (("format", "zip"),)),
            ("/data/files/a b.dat?x=1", (("inbody", "true"), ("name", "a&b c"))),
        ]
        for uri, query in cases:
            params = httpx.QueryParams(query)
            expected = transport.client.build_request("GET", transport.url(uri), params=params)
            assert wire.request_target(uri, query) == expected.url.raw_path.decode()
        assert wire.request_target("http://elsewhere.org/data/files/a.dat", None) is None
        assert wire.request_target("https://127.0.0.1:8080/xnat/data/a", None) is None
    finally:
        transport.close()


def test_tls_checks_follow_verify() -> None:
    checked = tls_context(True)
    assert checked.verify_mode == ssl.CERT_REQUIRED and checked.check_hostname
    unchecked = tls_context(False)
    assert unchecked.verify_mode == ssl.CERT_NONE and not unchecked.check_hostname


@pytest.mark.parametrize(
    ("error", "phase", "expected"),
    [
        (ConnectionRefusedError(111, "refused"), "connect", httpx.ConnectError),
        (TimeoutError("timed out"), "connect", httpx.ConnectTimeout),
        (BrokenPipeError(32, "broken pipe"), "write", httpx.WriteError),
        (TimeoutError("timed out"), "write", httpx.WriteTimeout),
        (TimeoutError("timed out"), "read", httpx.ReadTimeout),
        (ConnectionResetError(104, "reset"), "read", httpx.ReadError),
        (http.client.RemoteDisconnected("closed"), "read", httpx.RemoteProtocolError),
        (http.client.IncompleteRead(b"abc", 10), "read", httpx.RemoteProtocolError),
    ],
)
def test_failures_map_to_the_httpx_types(
    error: BaseException, phase: str, expected: type[httpx.TransportError]
) -> None:
    mapped = transport_error(error, phase, "PUT http://127.0.0.1/data/x")
    assert type(mapped) is expected
    assert "PUT http://127.0.0.1/data/x" in str(mapped)


def test_only_a_failed_connect_lets_a_non_repeatable_upload_be_sent_again() -> None:
    shown = "PUT http://127.0.0.1/data/x"
    never_sent = transport_error(ConnectionRefusedError(111, "refused"), "connect", shown)
    maybe_sent = transport_error(ConnectionResetError(104, "reset"), "read", shown)
    refused = transport_failure(shown, never_sent, 1, False)
    assert isinstance(refused, XNATConnectionError)
    assert not isinstance(refused, XNATOutcomeUnknownError)
    assert isinstance(transport_failure(shown, maybe_sent, 1, False), XNATOutcomeUnknownError)


def test_without_md5_the_length_is_still_checked() -> None:
    progress = transfer.DownloadProgress(origin=0, total=10, hashing=False)
    progress.digest.update(b"12345")
    progress.done = 5
    with pytest.raises(XNATDigestError, match="got 5 bytes, the server announced 10"):
        transfer.verify_download("http://x/f", progress, None)
    progress.done = 10
    transfer.verify_download("http://x/f", progress, None)
    assert progress.digest.hexdigest() == ""  # nothing was hashed
    progress.rewind(io.BytesIO(b"12345"), "http://x/f")
    assert progress.digest.hexdigest() == ""  # a restart does not start hashing either


def test_a_refusal_sent_before_the_body_was_read_is_still_the_answer() -> None:
    """A server may answer (401, 413) before reading a big body and close, so that sending
    the rest fails: the answer is read anyway, as httpcore does, instead of calling the
    request's outcome unknown. A real socket server on loopback answers that way."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def refuse() -> None:
        connection, _ = listener.accept()
        with connection:
            head = b""
            while b"\r\n\r\n" not in head:
                head += connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n"
                b"Connection: close\r\n\r\ntoo large"
            )
            connection.shutdown(socket.SHUT_WR)
            time.sleep(0.2)  # then close with the body unread: the client's send breaks

    server = threading.Thread(target=refuse, daemon=True)
    server.start()
    transport = transport_for(f"http://127.0.0.1:{listener.getsockname()[1]}")
    try:
        answer = FileWire(transport).send("PUT", "/big", body=b"x" * (64 << 20), length=64 << 20)
        assert (answer.status, answer.read()) == (413, b"too large")
        answer.close()
    finally:
        transport.close()
        server.join(timeout=5)
        listener.close()
