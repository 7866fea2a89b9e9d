"""A lean HTTP/1.1 path for file bodies: keep-alive ``http.client`` connections, no httpx.

httpx spends about 1.6 ms of CPU on a small GET (URL and cookie models, the auth flow, h11's
state machine), a bare ``http.client`` exchange about 0.35 ms; with many threads sharing one
GIL that difference decides how fast 2,000 small files move, and for one big body httpx's
chunk iteration costs 3x what ``readinto`` a reused buffer does. So the first try of a file
request (a GET of a file body, a PUT/POST of one) goes over this wire, and everything that is
not plainly successful is handed to the httpx path (``xnat_sdk._http``), which owns retries,
renewal of an expired login and the typed errors. This module only moves bytes: it sends the
session's cookies and headers, maps ``http.client``/socket failures to the httpx exception types
(so the pure decisions in ``_http`` apply unchanged) and logs like ``_http`` does.

Not used behind a proxy (environment ``HTTP(S)_PROXY``/``ALL_PROXY`` not bypassed by
``NO_PROXY``), for URLs of another origin, or by the async client.
"""

from __future__ import annotations

import http.client
import logging
import re
import select
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from xnat_sdk._http import Query, Timeout, as_timeout, normalize_query, proxy_applies
from xnat_sdk.errors import redact_url

if TYPE_CHECKING:
    from xnat_sdk._http import HttpTransport

#: The size of the reused receive buffer (one per thread) and of each upload write.
BUFFER_SIZE = 1024 * 1024
#: Idle connections kept for reuse (as many as parallel transfers may use at once).
MAX_IDLE = 20
#: A path that needs no percent-encoding (anything else is encoded the way httpx does it).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._~!$&'()*+,;=:@-]*")
#: The cookie the server refreshes on every answer and the client only reads at connect time;
#: any other Set-Cookie on a wire answer is stored in the session's jar as httpx would.
_REFRESHED_COOKIE = "SESSION_EXPIRATION_TIME="
#: Headers of the httpx client that the wire sets itself (or, for keep-alive, by default).
_NOT_FORWARDED = frozenset({"accept-encoding", "connection", "host"})
_buffers = threading.local()


def thread_buffer() -> memoryview:
    """This thread's reused receive buffer (``BUFFER_SIZE`` bytes)."""
    view: memoryview | None = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(bytearray(BUFFER_SIZE))
    return view


def transport_error(exc: BaseException, phase: str, shown: str) -> httpx.TransportError:
    """The httpx exception that stands for ``exc`` (an ``OSError`` or ``http.client`` error)
    raised while ``phase`` ("connect", "write" or "read") of the request ``shown``: a failed
    connect means the request never left the client, anything later that it may have."""
    message = f"{shown}: {type(exc).__name__}: {exc}"
    if phase == "connect":
        if isinstance(exc, TimeoutError):
            return httpx.ConnectTimeout(message)
        return httpx.ConnectError(message)
    if isinstance(exc, TimeoutError):
        return httpx.WriteTimeout(message) if phase == "write" else httpx.ReadTimeout(message)
    if isinstance(exc, http.client.HTTPException):  # incomplete body, bad status line
        return httpx.RemoteProtocolError(message)
    return httpx.WriteError(message) if phase == "write" else httpx.ReadError(message)


class WireAnswer:
    """The status, headers and body of one answer on a wire connection.

    The connection goes back to the pool once the body was read to its end (``close``);
    an answer abandoned before that closes its connection.
    """

    def __init__(
        self,
        wire: FileWire,
        connection: http.client.HTTPConnection,
        shown: str,
        *,
        reusable: bool = True,
    ) -> None:
        self._wire = wire
        self._connection = connection
        self._reusable = reusable  # False after a request whose body was not sent whole
        self._response = connection.getresponse()
        self.shown = shown
        self.status = self._response.status
        self.headers = self._response.msg

    def readinto(self, view: memoryview) -> int:
        """Read body bytes into ``view``; 0 at the end of the body. A connection that breaks
        raises the matching ``httpx.TransportError``."""
        try:
            count = self._response.readinto(view)
        except (OSError, http.client.HTTPException) as exc:
            self._connection.close()
            raise transport_error(exc, "read", self.shown) from exc
        missing = self._response.length
        if count == 0 and missing:  # http.client reports a cut body as its end
            self._connection.close()
            raise httpx.RemoteProtocolError(
                f"{self.shown}: the connection closed {missing} bytes before the body's end"
            )
        return count

    def read(self) -> bytes:
        """The whole (rest of the) body."""
        try:
            return self._response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._connection.close()
            raise transport_error(exc, "read", self.shown) from exc

    def close(self) -> None:
        """Give the connection back for reuse if the body was read whole, else close it."""
        response = self._response
        if self._reusable and response.isclosed() and not response.will_close:
            self._wire.release(self._connection)
        else:
            self._connection.close()


class FileWire:
    """Keep-alive ``http.client`` connections to the session's server, for file bodies.

    Connections are pooled (last used, first reused), so each thread of a parallel transfer
    keeps reusing one. The session's cookie jar and headers are read at every request, so a
    renewed login is seen; bodies are asked for uncompressed (``Accept-Encoding: identity``).
    """

    def __init__(self, transport: HttpTransport) -> None:
        self._transport = transport
        parts = urlsplit(transport.server)
        self._scheme = parts.scheme
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._closed = False
        self._sent = 0

    @classmethod
    def for_transport(cls, transport: HttpTransport, environ: Mapping[str, str]) -> FileWire | None:
        """The wire for ``transport``'s server, or ``None`` where it must not be used (a
        proxy applies, or the server URL is neither http nor https)."""
        if urlsplit(transport.server).scheme not in ("http", "https"):
            return None
        if proxy_applies(transport.server, environ):
            return None
        return cls(transport)

    @property
    def sent(self) -> int:
        """How many requests went over this wire (for reports and tests)."""
        return self._sent

    @property
    def logger(self) -> logging.Logger:
        return self._transport.logger

    def request_target(self, uri: str, query: Query | None) -> str | None:
        """The request target (path and query) of ``uri`` on this server, encoded as httpx
        would send it; ``None`` for a URL of another origin, or while the httpx client has an
        ``auth`` of its own (its auth flow is httpx's)."""
        url = self._transport.url(uri)
        if not url.startswith(self._origin + "/") or self._transport.client.auth is not None:
            return None
        target = url[len(self._origin) :]
        if _PLAIN_PATH.fullmatch(target):  # no "?" either: the query is only ``query``
            return f"{target}?{normalize_query(query)}" if query else target
        # as httpx 0.28 builds it: ``params`` replace a query written into ``uri``
        encoded = httpx.URL(url, params=normalize_query(query))
        return encoded.raw_path.decode("ascii")

    def send(
        self,
        method: str,
        target: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | IO[bytes] | None = None,
        length: int | None = None,
        timeout: Timeout = None,
    ) -> WireAnswer:
        """Send one request and read its status and headers (the body is the caller's).

        ``length`` is the body's length (a stream body is sent in ``BUFFER_SIZE`` blocks).
        Failures raise the httpx exception that stands for them (``transport_error``)."""
        client = self._transport.client
        limits = as_timeout(timeout, client.timeout)
        url = self._origin + target
        shown = f"{method} {redact_url(url) if '?' in target else url}"
        started = time.monotonic()
        sent = self._header_fields(target, headers, length if body is not None else None)
        hooks = client.event_hooks
        request: httpx.Request | None = None
        if hooks["request"] or hooks["response"]:  # the hooks see (and may edit) the request
            request = httpx.Request(method, url, headers=sent)
            for hook in hooks["request"]:
                hook(request)
            sent = [(k, v) for k, v in request.headers.items() if k.lower() != "host"]
        connection = self._connection(limits, shown)
        sock = connection.sock
        assert sock is not None  # connected by _connection
        try:
            sock.settimeout(limits.write)
            connection.putrequest(method, target, skip_accept_encoding=True)
            for name, value in sent:
                connection.putheader(name, value)
            connection.endheaders(body)
        except (OSError, http.client.HTTPException) as exc:
            unsent: BaseException | None = exc
        else:
            unsent = None
        # A server may refuse a request (401, 413) before reading all of its body and close
        # the connection: its answer is read even when sending failed, as httpcore does.
        try:
            sock.settimeout(limits.read)
            answer = WireAnswer(self, connection, shown, reusable=unsent is None)
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            if unsent is not None:
                raise transport_error(unsent, "write", shown) from unsent
            raise transport_error(exc, "read", shown) from exc
        if self.logger.isEnabledFor(logging.DEBUG):
            elapsed = time.monotonic() - started
            self.logger.debug("%s -> %d (%.3f s, lean wire)", shown, answer.status, elapsed)
        self._keep_cookies(answer, target)
        if request is not None and hooks["response"]:
            seen = httpx.Response(answer.status, headers=answer.headers.items(), request=request)
            for hook in hooks["response"]:
                hook(seen)
        return answer

    def _header_fields(
        self, target: str, headers: Mapping[str, str] | None, length: int | None
    ) -> list[tuple[str, str]]:
        """The header fields of a request for ``target`` but ``Host``: the session's headers
        and cookies (read now), identity encoding, ``headers`` and the body's length."""
        sent = [
            (name, value)
            for name, value in self._transport.client.headers.items()
            if name not in _NOT_FORWARDED  # httpx.Headers gives lower-case names
        ]
        sent.append(("Accept-Encoding", "identity"))
        cookie = self._cookie_header(target)
        if cookie:
            sent.append(("Cookie", cookie))
        if headers:
            sent.extend(headers.items())
        if length is not None:
            sent.append(("Content-Length", str(length)))
        return sent

    @property
    def origin(self) -> str:
        """The server's ``scheme://host[:port]`` (no user info)."""
        return self._origin

    @property
    def address(self) -> tuple[str, str, int]:
        """The server's (scheme, host, port)."""
        return self._scheme, self._host, self._port

    @property
    def has_hooks(self) -> bool:
        """Whether the httpx client has event hooks (they see each request as ``send`` makes
        it and may wait for other requests: a single-threaded sender cannot honour that)."""
        hooks = self._transport.client.event_hooks
        return bool(hooks["request"] or hooks["response"])

    def limits(self, timeout: Timeout) -> httpx.Timeout:
        """The timeouts of a request: ``timeout``, else the session's."""
        return as_timeout(timeout, self._transport.client.timeout)

    def request_head(
        self,
        method: str,
        target: str,
        *,
        headers: Mapping[str, str] | None = None,
        length: int | None = None,
    ) -> bytes | None:
        """The request line and header block that ``send`` would write for ``target`` (for a
        sender that writes its own sockets); ``None`` when a header value could split the
        request (CR or LF) or is not Latin-1: the httpx path then decides. Counted in
        ``sent``."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._origin.partition('://')[2]}"]
        for name, value in self._header_fields(target, headers, length):
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                return None
            lines.append(f"{name}: {value}")
        lines.extend(("", ""))
        try:
            head = "\r\n".join(lines).encode("latin-1")
        except UnicodeEncodeError:
            return None
        with self._lock:
            self._sent += 1
        return head

    def store_cookies(self, fields: list[tuple[str, str]], target: str) -> None:
        """Store the cookies an answer's header ``fields`` set in the session's jar, as
        httpx would, unless the only one is the expiration time every answer refreshes."""
        set_cookies = [value for name, value in fields if name.lower() == "set-cookie"]
        if all(value.startswith(_REFRESHED_COOKIE) for value in set_cookies):
            return
        message = http.client.HTTPMessage()
        for value in set_cookies:
            message["Set-Cookie"] = value
        request = urllib.request.Request(self._origin + target)
        self._transport.client.cookies.jar.extract_cookies(_HeadersOnly(message), request)  # type: ignore[arg-type]  # the jar reads only .info()

    def release(self, connection: http.client.HTTPConnection) -> None:
        """Keep ``connection`` for the next request (closed if the pool is full or shut)."""
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection; those in use close when their answer is done."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _connection(self, limits: httpx.Timeout, shown: str) -> http.client.HTTPConnection:
        """An idle connection that the server has not closed, else a new one."""
        with self._lock:
            self._sent += 1
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                break
            if _still_open(connection):
                return connection
            connection.close()
        connection = self._new_connection(limits.connect)
        try:
            connection.connect()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise transport_error(exc, "connect", shown) from exc
        return connection

    def _new_connection(self, timeout: float | None) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self._scheme == "https":
            if self._tls is None:  # loading the CA bundle is slow: only when needed
                self._tls = tls_context(self._transport.verify)
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._tls, blocksize=BUFFER_SIZE
            )
        else:
            connection = http.client.HTTPConnection(
                self._host, self._port, timeout=timeout, blocksize=BUFFER_SIZE
            )
        connection.response_class = QuickHeadersResponse
        return connection

    def _cookie_header(self, target: str) -> str:
        """The session's cookies for ``target`` (read now: a renewed login is seen)."""
        now = time.time()
        path = target.partition("?")[0]
        https = self._scheme == "https"
        found: list[str] = []
        for cookie in self._transport.client.cookies.jar:
            if (
                _domain_matches(self._host, cookie.domain)
                and _path_matches(path, cookie.path)
                and (https or not cookie.secure)
                and not cookie.is_expired(int(now))
            ):
                found.append(f"{cookie.name}={cookie.value}")
        return "; ".join(found)

    def _keep_cookies(self, answer: WireAnswer, target: str) -> None:
        """Store the answer's cookies in the session's jar, as httpx would, unless the only
        one is the expiration time that every answer refreshes."""
        set_cookies = answer.headers.get_all("Set-Cookie") or []
        if all(value.startswith(_REFRESHED_COOKIE) for value in set_cookies):
            return
        request = urllib.request.Request(self._origin + target)
        self._transport.client.cookies.jar.extract_cookies(answer._response, request)  # pyright: ignore[reportPrivateUsage]  # same module


class QuickHeadersResponse(http.client.HTTPResponse):
    """``http.client``'s response with its status line and header block read directly.

    The standard library hands the header block to the ``email`` package's parser: about
    0.45 ms of CPU per answer here, a quarter of what a small download costs the client. Body
    reading (``Content-Length``, chunked, keep-alive) stays ``http.client``'s, so ``begin``
    sets exactly the attributes it relies on, by the rules of RFC 9112.
    """

    def __init__(
        self,
        sock: socket.socket,
        debuglevel: int = 0,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        self.request_method = method

    def begin(self) -> None:  # called once, by HTTPConnection.getresponse
        while True:
            version, status, reason = _status_line(self.fp.readline(_MAX_LINE + 1))
            if status != http.client.CONTINUE:
                break
            _header_lines(self.fp)  # an interim 100 answer: its headers mean nothing here
        self.code = self.status = status
        self.reason = reason
        self.version = 10 if version == "HTTP/1.0" else 11
        message = http.client.HTTPMessage()
        for name, value in _header_lines(self.fp):
            message[name] = value
        self.headers = self.msg = message
        coding = message.get("transfer-encoding", "")
        self.chunked = coding.lower() == "chunked"
        self.chunk_left = None
        tokens = {t.strip() for t in message.get("connection", "").lower().split(",")}
        closes = "close" in tokens or (self.version == 10 and "keep-alive" not in tokens)
        length = message.get("content-length", "")
        self.length = int(length) if length.isdigit() and not self.chunked else None
        if status in (204, 304) or status < 200 or self.request_method == "HEAD":
            self.length = 0
        # without a length or chunks, the body ends when the server closes the connection
        self.will_close = closes or (self.length is None and not self.chunked)


class _HeadersOnly:
    """What ``http.cookiejar`` reads of a response: its headers, from ``info()``."""

    def __init__(self, message: http.client.HTTPMessage) -> None:
        self._message = message

    def info(self) -> http.client.HTTPMessage:
        return self._message


def parse_head(block: bytes) -> tuple[str, int, list[tuple[str, str]]]:
    """(version, status, header fields) of one answer head (``block``: from the status line
    to the empty line included), by the rules ``QuickHeadersResponse`` reads them (an interim
    1xx head is the caller's to skip). Malformed heads raise ``http.client``'s errors."""
    status_line, *lines = block.split(b"\n")
    version, status, _reason = _status_line(status_line)
    fields: list[tuple[str, str]] = []
    for line in lines:
        if line in (b"\r", b""):
            break
        _add_field(fields, line)
    return version, status, fields


#: The limits ``http.client`` applies to a status or header line and to the header count.
_MAX_LINE = 65536
_MAX_HEADERS = 100


def _status_line(line: bytes) -> tuple[str, int, str]:
    """(version, status, reason) of ``HTTP/1.1 200 OK``; a malformed line raises the
    ``http.client`` error a broken connection would (``RemoteDisconnected`` when empty)."""
    if len(line) > _MAX_LINE:
        raise http.client.LineTooLong("status line")
    if not line:
        raise http.client.RemoteDisconnected("the server closed the connection without an answer")
    version, _, rest = line.decode("iso-8859-1").strip().partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise http.client.BadStatusLine(line.decode("iso-8859-1"))
    return version, int(code), reason.strip()


def _header_lines(stream: IO[bytes]) -> list[tuple[str, str]]:
    """The ``(name, value)`` header fields up to the empty line (folded lines joined)."""
    fields: list[tuple[str, str]] = []
    while True:
        line = stream.readline(_MAX_LINE + 1)
        if line in (b"\r\n", b"\n", b""):
            return fields
        _add_field(fields, line)


def _add_field(fields: list[tuple[str, str]], line: bytes) -> None:
    """Add the header ``line`` to ``fields`` (or to the last one's value, when folded)."""
    if len(line) > _MAX_LINE:
        raise http.client.LineTooLong("header line")
    text = line.decode("iso-8859-1").rstrip("\r\n")
    if text[:1] in (" ", "\t") and fields:  # obsolete line folding continues a value
        name, value = fields[-1]
        fields[-1] = (name, f"{value} {text.strip()}")
        return
    name, colon, value = text.partition(":")
    if not colon:
        raise http.client.HTTPException(f"malformed header line {text!r}")
    fields.append((name.strip(), value.strip()))
    if len(fields) > _MAX_HEADERS:
        raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


def tls_context(verify: bool) -> ssl.SSLContext:
    """The TLS context httpx builds for ``verify`` (same CA bundle, same checks)."""
    return httpx.create_ssl_context(verify=verify)


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """False when the server closed an idle connection (readable means EOF or garbage)."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        if hasattr(select, "poll"):  # not select.select: it refuses descriptors above 1023
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        readable, _, _ = select.select([sock], [], [], 0)  # Windows has no poll
        return not readable
    except (OSError, ValueError):
        return False


def _domain_matches(host: str, domain: str) -> bool:
    if domain.startswith("."):
        return host == domain[1:] or host.endswith(domain)
    return host == domain or domain == f"{host}.local"  # http.cookiejar's name for dotless hosts


def _path_matches(path: str, cookie_path: str) -> bool:
    if not cookie_path or cookie_path == "/":
        return True
    return path == cookie_path or path.startswith(cookie_path.rstrip("/") + "/")


__all__ = [
    "BUFFER_SIZE",
    "FileWire",
    "WireAnswer",
    "parse_head",
    "thread_buffer",
    "tls_context",
    "transport_error",
]
