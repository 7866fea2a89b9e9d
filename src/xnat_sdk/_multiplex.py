"""Many file bodies from ONE thread over several keep-alive connections, one request in flight
on each (``selectors`` over non-blocking sockets).

With a thread per connection, every small file costs about twenty system calls that release
the GIL (a poll before each read, a directory check, ``fdopen``'s probes, random bytes for the
temporary name), and eight threads then spend most of their time handing the GIL to each
other: about 117 futex calls per file. One thread that writes and reads all sockets itself
spends about half the CPU on the same files (2,000 x 32 KiB: 0.8 s user + 1.6 s system
against 1.4 s + 2.6 s, a third less wall time). Like the lean wire (``_wire.py``) this is only a
first try: any file whose exchange is not plainly successful is handed back to the caller
(``parallel``), which runs it on the threaded per-file path with its retries, login renewal,
Range resume and typed errors. This module never raises a file's error itself, but for an
upload that must not be repeated (``docs/reliability.md``).

Small bodies are kept in memory and written (and hashed) by one helper thread (``_Writer``):
creating a file costs the kernel 0.3 to 0.6 ms here, time the loop spends reading other
answers instead (2,000 x 32 KiB: about 10 % less wall time). Bigger bodies are written as they
arrive, never held whole.

Plain ``http`` only (a TLS socket needs its own non-blocking handshake and buffering).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import queue
import secrets
import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import httpx

from xnat_sdk._http import (
    DEFAULT_ACCEPTED,
    RetryPolicy,
    Timeout,
    check_status,
    retry_after,
    retry_delay,
    transport_failure,
)
from xnat_sdk._wire import BUFFER_SIZE, FileWire, parse_head, transport_error
from xnat_sdk.errors import XNATOutcomeUnknownError, redact_url
from xnat_sdk.transfer import UpdateFunc, temporary_name

#: The longest answer head read (``http.client`` allows 100 lines of 64 KiB; XNAT's are short).
MAX_HEAD = 256 * 1024
#: Upload bodies up to this size are read with one ``os.read`` and sent with their head.
WHOLE_BODY = BUFFER_SIZE
#: Download bodies up to this size are held in memory and written by the helper thread.
SMALL_BODY = 256 * 1024
#: Bodies queued for the helper thread at most (then the loop waits): 16 MiB at worst.
WRITER_DEPTH = 64
#: A connection that breaks this many exchanges in a row is not opened again.
FAILURES_IN_A_ROW = 2
#: How partial downloads are created and uploads read (binary on every system; Python makes
#: the descriptors non-inheritable itself).
_BINARY: int = getattr(os, "O_BINARY", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY
_READ = os.O_RDONLY | _BINARY


@dataclass(frozen=True)
class DownloadItem:
    """One file to fetch: its index in the caller's list, request target, local path and the
    md5 to check (``None``: length only)."""

    index: int
    target: str
    path: Path
    md5: str | None
    update: UpdateFunc | None = None


@dataclass(frozen=True)
class UploadItem:
    """One file to send: its index, request target, local path and whether the request may be
    repeated (a PUT with overwrite)."""

    index: int
    target: str
    path: Path
    repeatable: bool
    method: str = "PUT"
    content_type: str = "application/octet-stream"


@dataclass
class Outcome:
    """What the multiplexed pass did: ``done`` files, ``handed_over`` ones (with the seconds
    to wait before the next try, as the retry policy or the server's ``Retry-After`` asks),
    and ``errors`` that end a file (an upload that must not be repeated, an exception of a
    progress callback). Files in none of them were not tried."""

    done: set[int] = field(default_factory=set[int])
    handed_over: dict[int, float] = field(default_factory=dict[int, float])
    errors: dict[int, Exception] = field(default_factory=dict[int, Exception])


class _Exchange:
    """One request and its answer; the connection (``_Connection``) moves the bytes."""

    def __init__(self, engine: _Engine, index: int, method: str, target: str) -> None:
        self.engine = engine
        self.index = index
        self.method = method
        self.target = target
        self.started = time.monotonic()
        self.wants_body = False  # set by ``begin``

    def request(self) -> bytes | None:
        """The request's first bytes (head, small body); ``None`` hands the file over."""
        raise NotImplementedError

    def more_body(self) -> bytes:
        """The next piece of the request body; empty once all was given."""
        return b""

    def begin(self, status: int, head: _Head, length: int | None) -> None:
        """Judge the answer's head; set ``wants_body`` to have its body (``length`` bytes,
        ``None``: not framed by a length) passed on."""
        raise NotImplementedError

    def receive(self, data: memoryview) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """The whole body was received."""
        raise NotImplementedError

    def broken(self, exc: BaseException, sent_whole: bool) -> None:
        """The connection failed (``exc``) before the exchange was settled."""
        raise NotImplementedError

    def abandon(self) -> None:
        """Give up whatever is held (a partial file) without a decision."""

    @property
    def shown(self) -> str:
        url = self.engine.wire.origin + self.target
        return f"{self.method} {redact_url(url) if '?' in url else url}"

    def log(self, status: int) -> None:
        logger = self.engine.wire.logger
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = time.monotonic() - self.started
            logger.debug("%s -> %d (%.3f s, multiplexed)", self.shown, status, elapsed)

    def hand_over(self, status: int | None = None, head: _Head | None = None) -> None:
        """Leave this file to the threaded path, after the pause its retry policy asks for."""
        delay = 0.0
        policy: RetryPolicy = self.engine.policy
        if status is not None and head is not None and status in policy.statuses:
            asked = retry_after(head.named.get("retry-after"))
            delay = retry_delay(policy, 1, 0.0, asked) or 0.0
        if status == 401:  # the login expired: the rest waits for the threaded path's renewal
            self.engine.expired = True
        self.engine.outcome.handed_over[self.index] = delay


class _Download(_Exchange):
    """A GET whose plain 200 body is written to a temporary file beside its target."""

    def __init__(self, engine: _Engine, item: DownloadItem, tag: str) -> None:
        super().__init__(engine, item.index, "GET", item.target)
        self.item = item
        self.path = os.fspath(item.path)  # plain strings: pathlib costs more than the rest
        folder, name = os.path.split(self.path)
        self.temp = os.path.join(folder, temporary_name(name, tag))
        self.descriptor: int | None = None
        self.held: bytearray | None = None  # a small body, for the helper thread
        self.digest = hashlib.md5(usedforsecurity=False) if item.md5 else None
        self.done = 0
        self.total = 0

    def request(self) -> bytes | None:
        return self.engine.wire.request_head("GET", self.target)

    def begin(self, status: int, head: _Head, length: int | None) -> None:
        self.log(status)
        if status != 200 or length is None or "content-encoding" in head.named:
            self.hand_over(status, head)
            return
        self.total = length
        self.wants_body = True
        if length <= SMALL_BODY and self.engine.writer is not None:
            self.held = bytearray()
            return
        # an OSError here (no room, no permission) hands the file over: the threaded path
        # meets the same and reports it
        self.descriptor = os.open(self.temp, _CREATE, 0o666)

    def receive(self, data: memoryview) -> None:
        if self.held is not None:
            self.held += data
        else:
            assert self.descriptor is not None
            written = 0
            while written < len(data):
                written += os.write(self.descriptor, data[written:])
            if self.digest is not None:
                self.digest.update(data)
        self.done += len(data)
        if self.item.update is not None:
            self.item.update(self.done, self.total, False)

    def finish(self) -> None:
        if self.held is not None:
            assert self.engine.writer is not None
            held, self.held = self.held, None
            self.engine.writer.put(_Body(self.index, self.temp, self.path, held, self.item.md5))
            return
        assert self.descriptor is not None
        descriptor, self.descriptor = self.descriptor, None
        os.close(descriptor)
        expected = self.item.md5
        if self.digest is not None and expected and self.digest.hexdigest() != expected.lower():
            self.engine.wire.logger.debug("%s: md5 differs; handing over", self.shown)
            _remove(self.temp)
            self.hand_over()  # the threaded path downloads it again and decides
            return
        try:
            os.replace(self.temp, self.path)
        except OSError:
            _remove(self.temp)
            self.hand_over()
            return
        self.engine.outcome.done.add(self.index)

    def broken(self, exc: BaseException, sent_whole: bool) -> None:
        self.engine.wire.logger.debug("%s: %s; handing over", self.shown, _reason(exc))
        self.abandon()
        self.hand_over()

    def abandon(self) -> None:
        self.held = None
        if self.descriptor is not None:
            os.close(self.descriptor)
            self.descriptor = None
            _remove(self.temp)


@dataclass(frozen=True)
class _Body:
    """A whole small body and where it goes."""

    index: int
    temp: str
    path: str
    data: bytearray
    md5: str | None

    def write(self) -> bool:
        """Check the md5, write the temporary file, rename it into place: True when done,
        False when the md5 differs (nothing is left behind either way)."""
        if self.md5:
            actual = hashlib.md5(self.data, usedforsecurity=False).hexdigest()
            if actual != self.md5.lower():
                return False
        descriptor = os.open(self.temp, _CREATE, 0o666)
        try:
            try:
                view = memoryview(self.data)
                while view:
                    view = view[os.write(descriptor, view) :]
            finally:
                os.close(descriptor)
            os.replace(self.temp, self.path)
        except BaseException:
            _remove(self.temp)
            raise
        return True


class _Writer:
    """The helper thread that writes whole small bodies, in the order they were completed."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._queue: queue.Queue[_Body | None] = queue.Queue(maxsize=WRITER_DEPTH)
        self.done: list[int] = []
        self.refused: list[int] = []  # a wrong md5 or a failed write: for the threaded path
        self.errors: dict[int, Exception] = {}  # anything else ends the file (the thread goes on)
        self._thread = threading.Thread(target=self._run, name="xnat-sdk-writer", daemon=True)
        self._thread.start()

    def put(self, body: _Body) -> None:
        self._queue.put(body)

    def close(self) -> None:
        """Write what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (body := self._queue.get()) is not None:
            try:
                written = body.write()
                if not written:
                    self._logger.debug("%s: md5 differs; handing over", body.path)
            except OSError as exc:  # the threaded path meets it again and reports it
                self._logger.debug("writing %s: %s; handing over", body.path, _reason(exc))
                written = False
            except Exception as error:
                self.errors[body.index] = error
                continue
            (self.done if written else self.refused).append(body.index)


class _Upload(_Exchange):
    """A PUT (or POST) of one local file; what must not be repeated is never handed over
    once it may have reached the server."""

    def __init__(self, engine: _Engine, item: UploadItem) -> None:
        super().__init__(engine, item.index, item.method, item.target)
        self.item = item
        self.descriptor: int | None = None
        self.left = 0
        self.status = 0
        self.fields: list[tuple[str, str]] = []
        self.content = bytearray()

    def request(self) -> bytes | None:
        try:
            descriptor = os.open(self.item.path, _READ)
        except OSError:
            self.hand_over()
            return None
        try:
            size = os.fstat(descriptor).st_size
            headers = {"Content-Type": self.item.content_type}
            head = self.engine.wire.request_head(
                self.method, self.target, headers=headers, length=size
            )
            if head is None:
                os.close(descriptor)
                self.hand_over()
                return None
            if size <= WHOLE_BODY:
                body = os.read(descriptor, size) if size else b""
                os.close(descriptor)
                if len(body) != size:  # changed while read: let the threaded path send it
                    self.hand_over()
                    return None
                return head + body
        except OSError:
            os.close(descriptor)
            self.hand_over()
            return None
        self.descriptor, self.left = descriptor, size
        return head

    def more_body(self) -> bytes:
        if self.descriptor is None or not self.left:
            return b""
        chunk = os.read(self.descriptor, min(self.left, BUFFER_SIZE))
        if not chunk:  # the file shrank: the request cannot be completed
            raise OSError(f"{self.item.path} ended {self.left} bytes early")
        self.left -= len(chunk)
        if not self.left:
            self.abandon()
        return chunk

    def begin(self, status: int, head: _Head, length: int | None) -> None:
        self.log(status)
        self.abandon()
        self.status, self.fields = status, head.fields
        accepted = status in DEFAULT_ACCEPTED[self.method]
        if status == 401 or (self.item.repeatable and not accepted):
            self.hand_over(status, head)
        elif length is None:  # not framed by a length: judged on its head, the connection closes
            self.finish()
        else:
            self.wants_body = True  # read whole (as the threaded path does) before judged

    def receive(self, data: memoryview) -> None:
        if self.status not in DEFAULT_ACCEPTED[self.method]:
            self.content += data  # the server's message, for the error

    def finish(self) -> None:
        if self.status in DEFAULT_ACCEPTED[self.method]:
            self.engine.outcome.done.add(self.index)
        else:
            self._refuse()

    def broken(self, exc: BaseException, sent_whole: bool) -> None:
        """As on the lean wire: a request sent whole whose answer was not read whole has an
        unknown outcome; what may be repeated (or was not sent whole) is handed over."""
        self.abandon()
        failure = transport_error(exc, "read" if sent_whole else "write", self.shown)
        if sent_whole and not self.item.repeatable:
            error = transport_failure(self.shown, failure, 1, False)
            if isinstance(error, XNATOutcomeUnknownError):
                error.__cause__ = failure
                self.engine.fail(self.index, error)
                return
        self.engine.wire.logger.debug("%s; handing over", failure)
        self.hand_over()

    def abandon(self) -> None:
        if self.descriptor is not None:
            os.close(self.descriptor)
            self.descriptor = None

    def _refuse(self) -> None:
        """The typed error for an answer that refused an upload that must not be repeated."""
        request = httpx.Request(self.method, self.engine.wire.origin + self.target)
        response = httpx.Response(
            self.status, headers=self.fields, content=bytes(self.content), request=request
        )
        try:
            check_status(response, None)
        except Exception as error:  # the typed error of that status
            self.engine.fail(self.index, error)


class _Connection:
    """One non-blocking keep-alive socket carrying one exchange at a time."""

    def __init__(self, engine: _Engine) -> None:
        self.engine = engine
        self.sock: socket.socket | None = None
        self.exchange: _Exchange | None = None
        self.out = memoryview(b"")
        self.head = bytearray()  # the start of an answer head split over several reads
        self.left = -1  # body bytes still to come; -1 while the head is read
        self.sending = False
        self.sent_whole = False
        self.closes = False
        self.deadline: float | None = None
        self.failures = 0
        self.retired = False

    def start(self, exchange: _Exchange) -> bool:
        """Send ``exchange``'s request; False when no connection could be opened (the
        exchange was not begun)."""
        if self.sock is None and not self._open():
            return False
        request = exchange.request()
        if request is None:  # handed over before anything was sent
            self.engine.idle.append(self)
            return True
        self.exchange = exchange
        self.out = memoryview(request)
        self.head.clear()
        self.left = -1
        self.sending, self.sent_whole, self.closes = True, False, False
        self._progress(self.engine.limits.write)
        self.writable()
        return True

    def _open(self) -> bool:
        _scheme, host, port = self.engine.wire.address
        try:
            sock = socket.create_connection((host, port), timeout=self.engine.limits.connect)
        except OSError as exc:
            self.engine.wire.logger.debug("connecting to %s:%d: %s", host, port, _reason(exc))
            self.retired = True
            self.engine.unreachable = True  # no other connection waits for its own timeout
            return False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self.sock = sock
        self.engine.selector.register(sock, selectors.EVENT_READ, self)
        return True

    def writable(self) -> None:
        """Send what the socket takes now; watch for writability while some is left."""
        assert self.sock is not None and self.exchange is not None
        exchange = self.exchange
        try:
            while True:
                if not self.out:
                    more = exchange.more_body()
                    if not more:
                        break
                    self.out = memoryview(more)
                count = self.sock.send(self.out)
                self.out = self.out[count:]
                self._progress(self.engine.limits.write)
        except BlockingIOError:
            self._watch(selectors.EVENT_READ | selectors.EVENT_WRITE)
            return
        except OSError as exc:
            self._break(exc)
            return
        self.sending, self.sent_whole = False, True
        self._watch(selectors.EVENT_READ)
        self._progress(self.engine.limits.read)

    def readable(self, buffer: bytearray, view: memoryview) -> None:
        """Read what arrived: the answer's head, then its body."""
        assert self.sock is not None and self.exchange is not None
        try:
            count = self.sock.recv_into(view)
        except BlockingIOError:
            return
        except OSError as exc:
            self._break(exc)
            return
        if not count:
            self._break(http.client.RemoteDisconnected("the server closed the connection"))
            return
        self._progress(self.engine.limits.read)
        if self.left >= 0:
            self._read_body(view[:count])
            return
        if self.head:  # the head began in an earlier read
            self.head += view[:count]
            body = self._read_head(self.head, len(self.head))
            if body is not None:
                self._read_body(body)
        else:
            body = self._read_head(buffer, count)
            if body is not None:
                self._read_body(body)

    def _read_head(self, source: bytearray, count: int) -> memoryview | None:
        """Judge the answer head at the start of ``source[:count]``; the body bytes that
        followed it, or ``None`` when the head is incomplete or no body is wanted."""
        exchange = self.exchange
        assert exchange is not None
        start = 0
        while True:
            end = source.find(b"\r\n\r\n", start, count)
            if end < 0:
                if source is not self.head:
                    self.head += source[start:count]
                if len(self.head) > MAX_HEAD:
                    self._break(http.client.LineTooLong("answer head"))
                return None
            try:
                version, status, fields = parse_head(bytes(source[start : end + 4]))
            except http.client.HTTPException as exc:
                self._break(exc)
                return None
            start = end + 4
            if not 100 <= status < 200:
                break  # else an interim answer: the real one follows
        head = _Head(fields, {name.lower(): value for name, value in fields})
        self.engine.wire.store_cookies(fields, exchange.target)
        self.closes = _closes(version, head) or not self.sent_whole
        length = _framed_length(head)
        if status in (204, 304):  # no body, whatever the headers say
            length = 0
        if self.sending:  # answered before the whole request was sent: stop sending
            self.sending = False
            self.closes = True
            self._watch(selectors.EVENT_READ)
        if not self.engine.call(exchange, lambda: exchange.begin(status, head, length)):
            self._settle(close=True)
            return None
        if not exchange.wants_body or length is None:
            self._settle(close=True)
            return None
        self.left = length
        if source is self.head:  # copied: the head buffer is cleared for the next answer
            body = memoryview(bytes(source[start:count]))
        else:
            body = memoryview(source)[start:count]
        self.head.clear()
        return body

    def _read_body(self, data: memoryview) -> None:
        exchange = self.exchange
        assert exchange is not None
        piece = data[: self.left]
        if piece:
            self.left -= len(piece)
            if not self.engine.call(exchange, lambda: exchange.receive(piece)):
                self._settle(close=True)
                return
        if not self.left:
            finished = self.engine.call(exchange, exchange.finish)
            self.failures = 0
            # bytes beyond the body: the stream is out of step, the connection is not reused
            self._settle(close=self.closes or len(data) > len(piece) or not finished)

    def _break(self, exc: BaseException) -> None:
        exchange, sent_whole = self.exchange, self.sent_whole
        self.failures += 1
        if self.failures >= FAILURES_IN_A_ROW:
            self.retired = True
        self._settle(close=True)
        if exchange is not None:
            self.engine.call(exchange, lambda: exchange.broken(exc, sent_whole))

    def time_out(self) -> None:
        self._break(TimeoutError("no progress within the timeout"))

    def _settle(self, *, close: bool) -> None:
        """The exchange is over: the connection is free for the next (or closed first)."""
        self.exchange = None
        self.deadline = None
        self.left = -1
        self.head.clear()
        self.sending = False
        if close:
            self.close()
        self.engine.idle.append(self)

    def _progress(self, seconds: float | None) -> None:
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def _watch(self, events: int) -> None:
        assert self.sock is not None
        if self.engine.selector.get_key(self.sock).events != events:
            self.engine.selector.modify(self.sock, events, self)

    def close(self) -> None:
        if self.sock is not None:
            self.engine.selector.unregister(self.sock)
            self.sock.close()
            self.sock = None


class _Engine:
    """The loop: each connection takes the next exchange when its last one is settled."""

    def __init__(
        self,
        wire: FileWire,
        policy: RetryPolicy,
        timeout: Timeout,
        exchanges: Sequence[Callable[[], _Exchange]],
    ) -> None:
        self.wire = wire
        self.policy = policy
        self.limits = wire.limits(timeout)
        self.outcome = Outcome()
        self.selector = selectors.DefaultSelector()
        self.idle: list[_Connection] = []
        self._exchanges = exchanges
        self._next = 0
        self._stopping = False
        self.writer: _Writer | None = None
        self.expired = False
        self.unreachable = False  # a connection could not be opened: open no more

    def fail(self, index: int, error: Exception) -> None:
        """``error`` is the file's final outcome: no new exchange starts after it."""
        self.outcome.errors[index] = error
        self._stopping = True

    def call(self, exchange: _Exchange, step: Callable[[], object]) -> bool:
        """Run one step of ``exchange``; False if it raised. An ``OSError`` (a full disk)
        hands the file over (the threaded path meets it again and reports it); any other
        exception (a progress callback's) is the file's error."""
        try:
            step()
        except OSError:
            exchange.abandon()
            exchange.hand_over()
        except Exception as error:
            exchange.abandon()
            self.fail(exchange.index, error)
        else:
            return True
        return False

    def next_for(self, connection: _Connection) -> None:
        """Start the next file on ``connection``, or close it when none is left."""
        if connection.exchange is not None:
            return
        over = self._stopping or self.expired or self._next >= len(self._exchanges)
        if over or connection.retired or (connection.sock is None and self.unreachable):
            connection.close()
            return
        exchange = self._exchanges[self._next]()
        self._next += 1
        if not connection.start(exchange):  # could not connect: left for the threaded path
            connection.close()

    def run(self, connections: int) -> Outcome:
        buffer = bytearray(BUFFER_SIZE)
        view = memoryview(buffer)
        pool = [_Connection(self) for _ in range(min(connections, len(self._exchanges)))]
        self.idle.extend(pool)
        try:
            while True:
                while self.idle:
                    self.next_for(self.idle.pop())
                busy = [c for c in pool if c.exchange is not None]
                if not busy:
                    break
                deadlines = [c.deadline for c in busy if c.deadline is not None]
                wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                for key, events in self.selector.select(wait):
                    connection = key.data
                    assert isinstance(connection, _Connection)
                    if events & selectors.EVENT_WRITE and connection.sending:
                        connection.writable()
                    if events & selectors.EVENT_READ and connection.exchange is not None:
                        connection.readable(buffer, view)
                now = time.monotonic()
                for connection in busy:
                    if connection.deadline is not None and connection.deadline <= now:
                        connection.time_out()
        finally:  # an interrupt or a bug: nothing half-written stays, no socket stays open
            for connection in pool:
                if connection.exchange is not None:
                    connection.exchange.abandon()
                connection.exchange = None
                connection.close()
            self.selector.close()
            if self.writer is not None:
                self.writer.close()
                self.outcome.done.update(self.writer.done)
                self.outcome.handed_over.update(dict.fromkeys(self.writer.refused, 0.0))
                self.outcome.errors.update(self.writer.errors)
        return self.outcome


def download(
    wire: FileWire,
    policy: RetryPolicy,
    items: Sequence[DownloadItem],
    connections: int,
    timeout: Timeout = None,
) -> Outcome:
    """Fetch ``items`` over ``connections`` sockets; the target folders must exist."""
    prefix = secrets.token_hex(4)  # one random tag per call, a counter per file

    def exchange(number: int) -> Callable[[], _Exchange]:
        return lambda: _Download(engine, items[number], f"{prefix}{number:x}")

    engine = _Engine(wire, policy, timeout, [exchange(n) for n in range(len(items))])
    engine.writer = _Writer(wire.logger)
    return engine.run(connections)


def upload(
    wire: FileWire,
    policy: RetryPolicy,
    items: Sequence[UploadItem],
    connections: int,
    timeout: Timeout = None,
) -> Outcome:
    """Send ``items`` over ``connections`` sockets."""

    def exchange(number: int) -> Callable[[], _Exchange]:
        return lambda: _Upload(engine, items[number])

    engine = _Engine(wire, policy, timeout, [exchange(n) for n in range(len(items))])
    return engine.run(connections)


class _Head(NamedTuple):
    """An answer's header fields, as sent and by lower-case name (the last one wins)."""

    fields: list[tuple[str, str]]
    named: dict[str, str]


def _framed_length(head: _Head) -> int | None:
    """The body length ``Content-Length`` gives, ``None`` for chunked or close-delimited
    bodies (or a malformed length), which this module does not read."""
    if "transfer-encoding" in head.named:
        return None
    length = head.named.get("content-length")
    return int(length) if length is not None and length.isdigit() else None


def _closes(version: str, head: _Head) -> bool:
    """Whether the server closes the connection after this answer (RFC 9112)."""
    tokens = {t.strip() for t in head.named.get("connection", "").lower().split(",")}
    return "close" in tokens or (version == "HTTP/1.0" and "keep-alive" not in tokens)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


__all__ = ["DownloadItem", "Outcome", "UploadItem", "download", "upload"]
