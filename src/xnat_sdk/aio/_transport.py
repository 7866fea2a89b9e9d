"""The async twin of ``xnat_sdk._http.HttpTransport``: httpx.AsyncClient, same decisions.

Which requests are retried, how long to wait, which statuses are accepted and how an error page
becomes a typed exception are the pure functions of ``xnat_sdk._http``; only the sending and the
sleeping are async here. A semaphore bounds the requests in flight per session.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager

import httpx

from xnat_sdk._http import (
    SOCKET_OPTIONS,
    Files,
    Query,
    RetryPolicy,
    Timeout,
    as_timeout,
    check_status,
    install_log_redaction,
    is_accepted,
    may_repeat,
    normalize_query,
    proxy_applies,
    retry_after,
    retry_delay,
    retryable_status,
    transport_failure,
)
from xnat_sdk.errors import XNATOutcomeUnknownError, XNATValueError, redact_url

#: A request body that can be produced again for a retry: bytes, or a factory of chunk streams.
AsyncBody = bytes | Callable[[], AsyncIterator[bytes]]


class _TlsOnFirstUse(httpx.AsyncBaseTransport):
    """The https transport, created by the first https request."""

    def __init__(self, verify: bool, limits: httpx.Limits) -> None:
        self._verify = verify
        self._limits = limits
        self._transport: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:  # no await before the assignment: no race in one loop
            self._transport = httpx.AsyncHTTPTransport(
                verify=self._verify, socket_options=SOCKET_OPTIONS, limits=self._limits
            )
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()


class AsyncHttpTransport:
    """An httpx.AsyncClient bound to one server: typed errors, safe retries, bounded concurrency."""

    def __init__(
        self,
        server: str,
        *,
        verify: bool,
        timeout: httpx.Timeout,
        retry: RetryPolicy,
        logger: logging.Logger,
        max_concurrency: int,
    ) -> None:
        if max_concurrency < 1:
            raise XNATValueError(f"max_concurrency must be at least 1, not {max_concurrency}")
        self.server = server.rstrip("/")
        self.retry = retry
        self.logger = logger
        self.max_concurrency = max_concurrency
        install_log_redaction(logger)
        limits = httpx.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        )
        # As HttpTransport: plain http never loads the CA bundle (a context trusting nothing,
        # so TLS through it could only fail); https gets its transport on first use.
        self.client = (
            # httpx honours HTTP(S)_PROXY/NO_PROXY only with the transports it builds itself
            httpx.AsyncClient(verify=verify, limits=limits, timeout=timeout, follow_redirects=False)
            if proxy_applies(self.server, os.environ)
            else httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(
                    verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
                    socket_options=SOCKET_OPTIONS,
                    limits=limits,
                ),
                mounts={"https://": _TlsOnFirstUse(verify, limits)},
                timeout=timeout,
                follow_redirects=False,
            )
        )
        self._slots = asyncio.Semaphore(max_concurrency)
        self.in_flight = 0
        self.peak_in_flight = 0

    def url(self, path: str) -> str:
        """The absolute URL for a REST path (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.server}/{path.lstrip('/')}"

    async def aclose(self) -> None:
        await self.client.aclose()

    def _build(
        self,
        method: str,
        path: str,
        query: Query | None,
        timeout: Timeout,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | None = None,
        content: AsyncBody | None = None,
        json: object = None,
        files: Files | None = None,
    ) -> httpx.Request:
        body = content() if callable(content) else content
        return self.client.build_request(
            method,
            self.url(path),
            params=normalize_query(query),
            headers=headers,
            data=data,
            content=body,
            json=json,
            files=files,
            timeout=as_timeout(timeout, self.client.timeout),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        content: AsyncBody | None = None,
        json: object = None,
        files: Files | None = None,
        auth: httpx.Auth | None = None,
        follow_redirects: bool = False,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one request (retried where ``xnat_sdk._http`` says it is safe), read its body
        and check its status."""

        def build() -> httpx.Request:
            return self._build(method, path, query, timeout, headers, data, content, json, files)

        # A multipart body is built from open files: it cannot be produced again.
        replay = build if files is None else None
        repeat = may_repeat(method, idempotent)
        response = await self._send(
            build, replay, repeat, auth=auth, stream=False, follow=follow_redirects
        )
        check_status(response, accepted_status)
        return response

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        accepted_status: Collection[int] | None = None,
        timeout: Timeout = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[httpx.Response]:
        """A response whose body the caller reads in chunks; it holds a concurrency slot until
        the block ends."""

        def build() -> httpx.Request:
            return self._build(method, path, query, timeout, headers)

        async with self._slot():
            repeat = may_repeat(method, None)
            response = await self._send_unbounded(build, build, repeat, None, True, True)
            try:
                if not is_accepted(response, accepted_status):
                    await response.aread()
                    check_status(response, accepted_status)
                yield response
            finally:
                await response.aclose()

    @asynccontextmanager
    async def _slot(self) -> AsyncGenerator[None]:
        async with self._slots:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1

    async def _send(
        self,
        build: Callable[[], httpx.Request],
        replay: Callable[[], httpx.Request] | None,
        repeat: bool,
        *,
        auth: httpx.Auth | None,
        stream: bool,
        follow: bool,
    ) -> httpx.Response:
        async with self._slot():
            return await self._send_unbounded(build, replay, repeat, auth, stream, follow)

    async def _send_unbounded(
        self,
        build: Callable[[], httpx.Request],
        replay: Callable[[], httpx.Request] | None,
        repeat: bool,
        auth: httpx.Auth | None,
        stream: bool,
        follow: bool,
    ) -> httpx.Response:
        """Send and retry per policy, as ``HttpTransport._send``: a request that must not be
        repeated (``repeat`` False: a POST, an upload without overwrite) is sent again only
        when it never left the client, and a lost answer raises ``XNATOutcomeUnknownError``.
        A streamed body is left unread, any other is read."""
        request = build()
        shown = f"{request.method} {redact_url(str(request.url))}"
        attempts = self.retry.attempts if replay is not None else 1
        started = time.monotonic()
        attempt = 1
        while True:
            try:
                response = await self.client.send(
                    request,
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                    stream=True,
                    follow_redirects=follow,
                )
                if not stream:
                    try:
                        await response.aread()
                    finally:
                        await response.aclose()
            except httpx.TransportError as exc:
                failure = transport_failure(shown, exc, attempt, repeat)
                if (
                    isinstance(failure, XNATOutcomeUnknownError)  # it may have been applied
                    or attempt >= attempts
                    or not await self._wait(attempt, started, shown, None)
                ):
                    self.logger.debug(
                        "%s failed after %d tries: %s", shown, attempt, type(exc).__name__
                    )
                    raise failure from exc
            else:
                elapsed = time.monotonic() - started
                self.logger.debug("%s -> %d (%.3f s)", shown, response.status_code, elapsed)
                asked = retry_after(response.headers.get("retry-after"))
                if (
                    not repeat
                    or not retryable_status(self.retry, response.status_code, attempt, attempts)
                    or not await self._wait(attempt, started, shown, asked)
                ):
                    return response
                await response.aclose()
            assert replay is not None  # attempts > 1 only when the request can be rebuilt
            request = replay()
            attempt += 1

    async def _wait(self, attempt: int, started: float, shown: str, asked: float | None) -> bool:
        """Sleep (without blocking the loop) before the next try; False when out of time."""
        delay = retry_delay(self.retry, attempt, time.monotonic() - started, asked)
        if delay is None:
            return False
        self.logger.debug("%s: retrying in %.2f s (try %d)", shown, delay, attempt)
        await asyncio.sleep(delay)
        return True
