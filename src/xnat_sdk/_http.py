"""The one place that talks httpx: timeouts, retries, status checks, streaming and logging.

Everything above this module deals in REST paths and typed errors; everything about the wire
(timeouts on by default, which requests may be retried, how a server's error page becomes a
message, what may be logged) is decided here.
"""

from __future__ import annotations

import email.utils
import html
import logging
import os
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TypeAlias, cast
from urllib.parse import urlsplit

# httpx imports httpcore when the first transport is made; importing it with this module keeps
# that cost out of connect(), which then costs only its requests.
import httpcore  # noqa: F401  # pyright: ignore[reportUnusedImport]  # imported early on purpose
import httpx

from xnat_sdk.errors import (
    XNATConnectionError,
    XNATOutcomeUnknownError,
    XNATTimeoutError,
    XNATValueError,
    error_for_status,
    redact_url,
)

#: Query values as callers give them; booleans become XNAT's ``true``/``false``.
QueryValue: TypeAlias = str | int | float | bool
Query: TypeAlias = Mapping[str, QueryValue] | Sequence[tuple[str, QueryValue]]
#: Multipart parts: field name -> (file name, content[, content type]).
FileContent: TypeAlias = IO[bytes] | bytes
Files: TypeAlias = Mapping[
    str, tuple[str | None, FileContent] | tuple[str | None, FileContent, str | None]
]
Timeout: TypeAlias = float | httpx.Timeout | None

#: Connect quickly or fail; allow slow servers to think for a while before answering.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=300.0, pool=30.0)

#: Statuses accepted when the caller does not say otherwise (xnatpy's defaults).
DEFAULT_ACCEPTED: Mapping[str, frozenset[int]] = {
    "GET": frozenset({200}),
    "HEAD": frozenset({200}),
    "PUT": frozenset({200, 201}),
    "POST": frozenset({200, 201}),
    "DELETE": frozenset({200}),
}

#: Header and cookie values that must not reach a log, in httpx/httpcore's DEBUG traces too.
_SECRET_PATTERNS = (
    re.compile(r"(JSESSIONID=)[^;'\"\s,]+", re.I),
    re.compile(r"(b?'(?:authorization|cookie|set-cookie)',\s*b?')[^']+", re.I),
    re.compile(r"((?:password|secret)=)[^&\s'\"]+", re.I),
)
#: The loggers of the HTTP stack; each gets the redacting filter (filters do not inherit).
_HTTP_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


class RedactSecrets(logging.Filter):
    """Rewrites a log record so that cookies, authorization headers and passwords read ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for pattern in _SECRET_PATTERNS:
            redacted = pattern.sub(r"\1***", redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_redaction(logger: logging.Logger) -> None:
    """Attach the redacting filter to ``logger`` and to the HTTP stack's loggers (once each)."""
    for target in (logger, *(logging.getLogger(name) for name in _HTTP_LOGGERS)):
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())


#: No Nagle on client sockets (see ``HttpTransport``); the async transport uses them too.
SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: Failures before a request leaves the client: it cannot have been applied, so any request
#: may be sent again after one.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed request is sent again: idempotent methods only, never a POST.

    Connection errors, timeouts and the ``statuses`` are retried. ``attempts`` counts the first
    try; the wait before try ``n`` is ``backoff * 2**(n-2)`` plus up to 50% jitter, or what the
    server's ``Retry-After`` asks for (429 and 503), and all tries together never take more
    than ``max_total`` seconds: a retry that would end later is not made.
    """

    attempts: int = 4
    backoff: float = 0.25
    max_total: float = 60.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 502, 503, 504}))

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise XNATValueError(f"RetryPolicy.attempts must be at least 1, not {self.attempts}")
        if self.backoff < 0 or self.max_total < 0:
            raise XNATValueError("RetryPolicy.backoff and max_total cannot be negative")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try ``attempt`` (1-based), jitter included."""
        base = self.backoff * 2.0 ** (attempt - 1)
        return base + random.uniform(0, base / 2)


def retry_policy(retry: RetryPolicy | int | None) -> RetryPolicy:
    """The policy ``connect(retry=...)`` asks for: a policy, a number of retries (0: none),
    or ``None`` for the default."""
    if retry is None:
        return RetryPolicy()
    if isinstance(retry, RetryPolicy):
        return retry
    if retry < 0:
        raise XNATValueError(f"retry must be a RetryPolicy or a number >= 0, not {retry}")
    return RetryPolicy(attempts=retry + 1)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def normalize_query(query: Query | None) -> httpx.QueryParams:
    """Query parameters as strings, booleans spelled the way XNAT expects."""
    if query is None:
        return httpx.QueryParams()
    pairs = query.items() if isinstance(query, Mapping) else query
    result: list[tuple[str, str]] = []
    for key, value in pairs:
        if isinstance(value, bool):
            result.append((key, "true" if value else "false"))
        else:
            result.append((key, str(value)))
    return httpx.QueryParams(tuple(result))


def server_message(response: httpx.Response) -> str:
    """The human-readable part of an error answer (XNAT sends HTML pages or plain text)."""
    try:
        text = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return ""
    heading = re.search(r"<h3>(.*?)</h3>", text, re.S | re.I)
    if heading:
        text = heading.group(1)
    elif "<" in text:
        body = re.search(r"<body[^>]*>(.*)</body>", text, re.S | re.I)
        text = re.sub(r"<[^>]+>", " ", body.group(1) if body else text)
    text = " ".join(html.unescape(text).split())
    return text[:_MESSAGE_LIMIT]


def proxy_applies(url: str, environ: Mapping[str, str]) -> bool:
    """Whether the environment names a proxy for ``url`` that ``NO_PROXY`` does not bypass
    (``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``, any case, as httpx's ``trust_env`` reads
    them). Unsure counts as yes: the client is then built by httpx, which decides itself, and
    files take the httpx path, not the lean wire."""
    parts = urlsplit(url)
    proxies: dict[str, str] = {}
    for key, value in environ.items():
        name = key.lower()
        if value and name.endswith("_proxy"):
            proxies[name[: -len("_proxy")]] = value
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    host = (parts.hostname or "").lower()
    for entry in proxies.get("no", "").replace(" ", "").lower().split(","):
        name, _, port = entry.partition(":")
        if port and str(parts.port) != port:
            continue
        name = name.lstrip(".")
        if entry == "*" or (name and (host == name or host.endswith("." + name))):
            return False
    return True


class _TlsOnFirstUse(httpx.BaseTransport):
    """The https transport, created by the first https request (see ``HttpTransport``)."""

    def __init__(self, verify: bool) -> None:
        self._verify = verify
        self._transport: httpx.HTTPTransport | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if self._transport is None:
                self._transport = httpx.HTTPTransport(
                    verify=self._verify, socket_options=SOCKET_OPTIONS
                )
        return self._transport.handle_request(request)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class HttpTransport:
    """An httpx client bound to one server, raising typed errors for unaccepted statuses."""

    def __init__(
        self,
        server: str,
        *,
        verify: bool = True,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        logger: logging.Logger,
    ) -> None:
        self.server = server.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.verify = verify
        self.logger = logger
        install_log_redaction(logger)
        # No Nagle: h11 writes headers and body separately, and a small body would otherwise
        # wait for the server's delayed ACK (about 40 ms per upload on Linux).
        # Plain http never needs the CA bundle, whose loading is most of connect()'s own
        # cost: https goes through a transport built on first use. The http one holds a
        # context with no trusted CAs, so TLS through it could only fail, never go unverified.
        if proxy_applies(self.server, os.environ):
            # httpx routes through HTTP(S)_PROXY/ALL_PROXY (and honours NO_PROXY) only with
            # the transports it builds itself: the tuned ones below would go direct.
            self.client = httpx.Client(verify=verify, timeout=timeout, follow_redirects=False)
            return
        plain = httpx.HTTPTransport(
            verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), socket_options=SOCKET_OPTIONS
        )
        self.client = httpx.Client(
            transport=plain,
            mounts={"https://": _TlsOnFirstUse(verify)},
            timeout=timeout,
            follow_redirects=False,
        )

    def url(self, path: str) -> str:
        """The absolute URL for a REST path (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.server}/{path.lstrip('/')}"

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        content: bytes | IO[bytes] | Iterator[bytes] | None = None,
        json: object = None,
        files: Files | None = None,
        auth: httpx.Auth | None = None,
        follow_redirects: bool = False,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one request (retried where safe) and check its status.

        ``idempotent`` overrides what the method implies (a PUT that must not be repeated,
        e.g. a file upload without overwrite, passes ``False``). A body read from a seekable
        file is rewound for a retry; any other stream is sent once.
        """
        start = _position(content)

        def build() -> httpx.Request:
            if start is not None:
                cast("IO[bytes]", content).seek(start)
            return self.client.build_request(
                method,
                self.url(path),
                params=normalize_query(query),
                headers=headers,
                data=data,
                content=content,
                json=json,
                files=files,
                timeout=as_timeout(timeout, self.client.timeout),
            )

        request = build()
        replay = build if start is not None or _replayable(request) else None
        repeat = may_repeat(method, idempotent)
        response = self._send(
            request, replay, repeat, auth=auth, stream=False, follow=follow_redirects
        )
        self.check(response, accepted_status)
        return response

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
    ) -> Generator[httpx.Response]:
        """A response whose body is read by the caller in chunks (for downloads)."""

        def build() -> httpx.Request:
            return self.client.build_request(
                method,
                self.url(path),
                params=normalize_query(query),
                headers=headers,
                timeout=as_timeout(timeout, self.client.timeout),
            )

        repeat = may_repeat(method, None)
        response = self._send(build(), build, repeat, auth=None, stream=True, follow=True)
        try:
            if not is_accepted(response, accepted_status):
                response.read()
                self.check(response, accepted_status)
            yield response
        finally:
            response.close()

    def check(self, response: httpx.Response, accepted_status: Collection[int] | None) -> None:
        """Raise the typed error for ``response`` unless its status is accepted."""
        check_status(response, accepted_status)

    def _send(
        self,
        request: httpx.Request,
        replay: Callable[[], httpx.Request] | None,
        repeat: bool,
        *,
        auth: httpx.Auth | None,
        stream: bool,
        follow: bool,
    ) -> httpx.Response:
        """Send ``request``; when ``replay`` rebuilds it, failures are retried per policy.

        A request that must not be repeated (``repeat`` False: a POST, an upload without
        overwrite) is sent again only after a connection that failed before it left the client;
        an answer lost after it was sent raises ``XNATOutcomeUnknownError``.
        """
        shown = f"{request.method} {redact_url(str(request.url))}"
        attempts = self.retry.attempts if replay is not None else 1
        started = time.monotonic()
        attempt = 1
        while True:
            try:
                response = self.client.send(
                    request,
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                    stream=stream,
                    follow_redirects=follow,
                )
            except httpx.TransportError as exc:
                reason = type(exc).__name__
                if (
                    not (repeat or isinstance(exc, _NEVER_SENT))
                    or attempt >= attempts
                    or not self._wait(attempt, started, shown, reason, None)
                ):
                    self.logger.debug("%s failed after %d tries: %s", shown, attempt, reason)
                    raise transport_failure(shown, exc, attempt, repeat) from exc
            else:
                elapsed = time.monotonic() - started
                self.logger.debug("%s -> %d (%.3f s)", shown, response.status_code, elapsed)
                if (
                    not repeat
                    or not retryable_status(self.retry, response.status_code, attempt, attempts)
                    or not self._wait(
                        attempt,
                        started,
                        shown,
                        str(response.status_code),
                        retry_after(response.headers.get("retry-after")),
                    )
                ):
                    return response
                response.close()
            assert replay is not None  # attempts > 1 only when the request can be rebuilt
            request = replay()
            attempt += 1

    def _wait(
        self, attempt: int, started: float, shown: str, reason: str, asked: float | None
    ) -> bool:
        """Sleep before the next try; False when that would exceed the total time budget."""
        delay = retry_delay(self.retry, attempt, time.monotonic() - started, asked)
        if delay is None:
            self.logger.debug("%s: %s; no time left for a retry", shown, reason)
            return False
        self.logger.debug(
            "%s: %s (try %d of %d), retrying in %.2f s",
            shown,
            reason,
            attempt,
            self.retry.attempts,
            delay,
        )
        time.sleep(delay)
        return True


def _position(content: bytes | IO[bytes] | Iterator[bytes] | None) -> int | None:
    """Where a seekable file body starts (so a retry can rewind to it), else ``None``."""
    if content is None or isinstance(content, bytes) or not hasattr(content, "seekable"):
        return None  # generators (and other plain iterators) cannot be rewound
    body = cast("IO[bytes]", content)
    try:
        return body.tell() if body.seekable() else None
    except (OSError, ValueError):
        return None


def _replayable(request: httpx.Request) -> bool:
    """A request can be sent again only when its body is in memory (not a one-shot stream)."""
    return isinstance(request.stream, httpx.ByteStream)


# -- pure decisions, shared by HttpTransport and the async transport (xnat_sdk.aio) ------------


def may_repeat(method: str, idempotent: bool | None) -> bool:
    """Whether a request may be sent again after a transient failure (``idempotent``
    overrides what the method implies)."""
    return method in _IDEMPOTENT if idempotent is None else idempotent


def transport_failure(
    shown: str, exc: httpx.TransportError, attempt: int, repeat: bool
) -> XNATConnectionError:
    """The typed error for a request (``shown``: method and redacted URL) that ``exc`` ended
    after ``attempt`` tries: ``XNATOutcomeUnknownError`` when it must not be repeated and may
    have reached the server, ``XNATTimeoutError`` for a timeout, else ``XNATConnectionError``."""
    reason = type(exc).__name__
    if not repeat and not isinstance(exc, _NEVER_SENT):
        return XNATOutcomeUnknownError(
            f"{shown}: the connection broke ({reason}) after the request was sent, so the "
            "outcome is unknown: the server may or may not have applied it. It was not sent "
            "again because repeating it could apply it twice; check the server before retrying"
        )
    error = XNATTimeoutError if isinstance(exc, httpx.TimeoutException) else XNATConnectionError
    return error(f"{shown} failed after {attempt} tries: {reason}")


def retryable_status(policy: RetryPolicy, status: int, attempt: int, attempts: int) -> bool:
    """Whether an answer with ``status`` after try ``attempt`` of ``attempts`` is retried."""
    return status in policy.statuses and attempt < attempts


def retry_delay(
    policy: RetryPolicy, attempt: int, elapsed: float, asked: float | None
) -> float | None:
    """Seconds to wait before the try after ``attempt`` (``asked``: the server's Retry-After),
    or ``None`` when that retry would end beyond the policy's total time budget."""
    delay = policy.delay(attempt) if asked is None else asked
    return None if elapsed + delay > policy.max_total else delay


def is_accepted(response: httpx.Response, accepted_status: Collection[int] | None) -> bool:
    """Whether ``response``'s status is accepted (the method's default when not given)."""
    accepted = accepted_status
    if accepted is None:
        accepted = DEFAULT_ACCEPTED.get(response.request.method, frozenset({200}))
    return response.status_code in accepted


def check_status(response: httpx.Response, accepted_status: Collection[int] | None) -> None:
    """Raise the typed error for ``response`` (read) unless its status is accepted."""
    if is_accepted(response, accepted_status):
        return
    raise error_for_status(
        response.request.method,
        str(response.request.url),
        response.status_code,
        server_message(response),
    )


def as_timeout(timeout: Timeout, default: httpx.Timeout) -> httpx.Timeout:
    if timeout is None:
        return default
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(timeout)
