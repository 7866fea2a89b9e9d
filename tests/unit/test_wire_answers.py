"""How the lean wire reads an answer's status line and headers (``QuickHeadersResponse``):
the same fields, body framing and keep-alive decision as ``http.client``'s own parser, over a
real socket pair."""

from __future__ import annotations

import http.client
import socket

import pytest

from xnat_sdk._wire import QuickHeadersResponse


def answer_to(raw: bytes, method: str = "GET") -> tuple[QuickHeadersResponse, bytes]:
    """The parsed answer ``raw`` and its body, read as the wire reads one."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(raw)
        theirs.shutdown(socket.SHUT_WR)
        response = QuickHeadersResponse(ours, method=method)
        response.begin()
        body = response.read()
        response.close()
    return response, body


def stdlib_answer_to(raw: bytes, method: str = "GET") -> tuple[http.client.HTTPResponse, bytes]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(raw)
        theirs.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(ours, method=method)
        response.begin()
        body = response.read()
        response.close()
    return response, body


ANSWERS = [
    b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: "abc"\r\n\r\nhello',
    b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 2-4/5\r\nContent-Length: 3\r\n\r\nllo",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
    b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 4\r\n\r\nbusy",
    b"HTTP/1.1 200 OK\r\nSet-Cookie: A=1; Path=/\r\nset-cookie: B=2\r\nX-Long: one\r\n two\r\n"
    b"Content-Length: 0\r\n\r\n",
]


@pytest.mark.parametrize("raw", ANSWERS)
def test_an_answer_reads_as_http_client_reads_it(raw: bytes) -> None:
    ours, body = answer_to(raw)
    theirs, expected = stdlib_answer_to(raw)
    assert (ours.status, ours.reason, ours.version) == (
        theirs.status,
        theirs.reason,
        theirs.version,
    )
    assert body == expected
    assert ours.will_close == theirs.will_close
    assert ours.chunked == theirs.chunked
    for name in ("content-length", "etag", "retry-after", "content-range"):
        assert ours.headers.get(name) == theirs.headers.get(name), name
    folded = theirs.headers.get("x-long")  # http.client keeps the fold, RFC 9112 makes it a space
    assert ours.headers.get("x-long") == (" ".join(folded.split()) if folded else None)
    assert ours.headers.get_all("Set-Cookie") == theirs.headers.get_all("Set-Cookie")


def test_a_head_answer_has_no_body_whatever_its_length() -> None:
    ours, body = answer_to(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", method="HEAD")
    assert (ours.length, body, ours.will_close) == (0, b"", False)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", http.client.RemoteDisconnected),
        (b"ICY 200 OK\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 2000 Odd\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n", http.client.LineTooLong),
    ],
)
def test_a_malformed_answer_raises_an_http_client_error(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        answer_to(raw)
