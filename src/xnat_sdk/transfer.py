"""Moving bytes: downloads, uploads, zips and directory trees, with progress and atomic writes.

A download is written to a temporary file beside its target and renamed only once complete (and,
when the server announced a length or an md5 digest, verified), so an interrupted transfer never
leaves a file with the final name. Archives from the server are unpacked only when every member
stays inside the target directory.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import re
import secrets
import shutil
import sys
import tarfile
import tempfile
import threading
import time
import warnings
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Literal, Protocol

import httpx

from xnat_sdk._http import (
    DEFAULT_ACCEPTED,
    Query,
    Timeout,
    check_status,
    normalize_query,
    retry_after,
    retry_delay,
    transport_failure,
)
from xnat_sdk._wire import BUFFER_SIZE, FileWire, WireAnswer, thread_buffer
from xnat_sdk.errors import (
    XNATConnectionError,
    XNATDigestError,
    XNATOutcomeUnknownError,
    XNATValueError,
    redact_url,
)

if TYPE_CHECKING:
    from xnat_sdk._http import RetryPolicy
    from xnat_sdk.session import XNATSession

#: xnatpy's progress callback: bytes so far, total bytes (if known), finished.
UpdateFunc = Callable[[int, "int | None", bool], None]
UploadMethod = Literal["per_file", "tar_memory", "tgz_memory", "tar_file", "tgz_file"]
UPLOAD_METHODS: tuple[UploadMethod, ...] = (
    "per_file",
    "tar_memory",
    "tgz_memory",
    "tar_file",
    "tgz_file",
)
DEFAULT_CHUNK = 524288
#: Bodies at least this long are hashed in a helper thread (``_HashingThread``).
THREADED_MD5_MIN = 8 * 1024 * 1024
#: The longest file name (one path part, in bytes) common file systems accept.
NAME_MAX = 255


def progress_bar(description: str) -> UpdateFunc | None:
    """A rich progress bar on stderr, or ``None`` when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TransferSpeedColumn,
    )

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )
    task = progress.add_task(description, total=None)
    progress.start()

    def update(done: int, total: int | None, finished: bool) -> None:
        progress.update(task, completed=done, total=total)
        if finished:
            progress.stop()

    return update


@contextmanager
def atomic_file(target: Path) -> Generator[IO[bytes]]:
    """A file that appears at ``target`` only if the block completes without an exception.

    The temporary file is created beside the target (same file system, so the rename is
    atomic) with the permissions the umask gives a new file, as a plain ``open`` would.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / _temporary_name(target.name)
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _temporary_name(name: str) -> str:
    """A hidden, unique name for the partial file of ``name`` (``temporary_name`` with a
    random tag)."""
    return temporary_name(name, secrets.token_hex(6))


def temporary_name(name: str, tag: str) -> str:
    """The hidden name ``.<name>.<tag>.part`` for the partial file of ``name``, which a file
    system accepts even when ``name`` itself is as long as allowed (the name is shortened,
    not the marks); ``tag`` makes it unique."""
    marks = f".{tag}.part"
    room = NAME_MAX - 1 - len(marks)
    while len(os.fsencode(name)) > room:
        name = name[: -max(1, (len(os.fsencode(name)) - room) // 4)]
    return f".{name}{marks}"


def check_file_name(name: str) -> str:
    """``name`` unchanged if it can name one file inside a directory; else an
    ``XNATValueError`` saying why. Names that come from a server pass here before anything is
    written, so that no remote name can lead outside the directory it is downloaded into."""
    if name in ("", ".", ".."):
        raise XNATValueError(f"file name {name!r} does not name a file")
    if "\0" in name:
        raise XNATValueError(f"file name {name!r} contains a NUL character")
    if "/" in name or (os.sep != "/" and os.sep in name):
        raise XNATValueError(f"file name {name!r} contains a path separator")
    size = len(os.fsencode(name))
    if size > NAME_MAX:
        raise XNATValueError(
            f"file name {name[:40]!r}... is {size} bytes long; file systems allow {NAME_MAX}"
        )
    return name


@dataclass
class TransferStats:
    """What a download moved over the wire, resumptions included (for reports and tests)."""

    #: Body bytes received, including any lost when a connection dropped mid-chunk.
    bytes_received: int = 0
    #: Bytes of the finished file.
    bytes_written: int = 0
    #: Ranged requests that continued after a dropped connection.
    resumes: int = 0
    #: Times the file was started again from zero (the server ignored or misanswered Range).
    restarts: int = 0
    #: Requests made for the body.
    requests: int = 0


class _Digest(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


class _NoDigest:
    """Stands for the md5 when none is wanted (no digest expected, or ``verify=False``):
    hashing 1 GiB costs about 2 s of CPU, so it is not computed for nothing."""

    def update(self, data: bytes | memoryview, /) -> None:
        pass

    def hexdigest(self) -> str:
        return ""


def _new_digest(hashing: bool) -> _Digest:
    return hashlib.md5(usedforsecurity=False) if hashing else _NoDigest()


@dataclass
class DownloadProgress:
    """The part of the body already written, and what the first answer announced (shared by
    the sync and async downloads)."""

    origin: int | None  # where the body starts in the target (None: cannot rewind)
    done: int = 0
    total: int | None = None
    validator: str | None = None  # ETag or Last-Modified, for If-Range
    hashing: bool = True  # False: no md5 is wanted, none is computed
    digest: _Digest = field(init=False)

    def __post_init__(self) -> None:
        self.digest = _new_digest(self.hashing)

    def range_headers(self) -> dict[str, str] | None:
        if self.done == 0:
            return None
        headers = {"Range": f"bytes={self.done}-"}
        if self.validator:
            headers["If-Range"] = self.validator
        return headers

    def rewind(self, target: IO[bytes], url: str) -> None:
        """Forget everything written: the next bytes are the body's first ones."""
        if self.origin is None:
            raise XNATConnectionError(
                f"GET {redact_url(url)}: the download must start again but the target stream "
                "cannot be rewound"
            )
        target.seek(self.origin)
        target.truncate()
        self.done = 0
        self.digest = _new_digest(self.hashing)

    def announce(self, length: str | None, encoding: str | None, validator: str | None) -> None:
        """Take what the answer to a request for the whole body announced (its headers
        ``Content-Length``, ``Content-Encoding`` and ``ETag`` or ``Last-Modified``)."""
        self.total = announced_length(length, encoding)
        self.validator = validator


def announced_length(length: str | None, encoding: str | None) -> int | None:
    """The body length a ``Content-Length`` header announces (``None``: none, or a
    compressed body, whose length is not the file's)."""
    if length is None or not length.isdigit() or encoding is not None:
        return None
    return int(length)


def _content_range(response: httpx.Response) -> tuple[int, int, int | None] | None:
    """(first byte, last byte, size or None) from ``Content-Range: bytes A-B/N``."""
    header = response.headers.get("content-range", "")
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", header.strip())
    if match is None:
        return None
    size = match.group(3)
    return int(match.group(1)), int(match.group(2)), None if size == "*" else int(size)


def _continues(response: httpx.Response, progress: DownloadProgress) -> bool:
    """True when a 206 answer holds exactly the rest of the body we started."""
    found = _content_range(response)
    if response.status_code != 206 or found is None:
        return False
    first, last, size = found
    if first != progress.done:
        return False
    if progress.total is None:
        return True
    return size == progress.total and last == progress.total - 1


def download_stream(
    session: XNATSession,
    uri: str,
    target_stream: IO[bytes],
    *,
    format: str | None = None,
    query: Query | None = None,
    verbose: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    update_func: UpdateFunc | None = None,
    timeout: Timeout = None,
    expected_md5: str | None = None,
    stats: TransferStats | None = None,
    verify: bool = True,
    lean_wire: bool = True,
) -> int:
    """Write the body of ``uri`` to ``target_stream``; return the number of bytes.

    A connection that drops mid-body is resumed with ``Range`` from the last byte written; the
    answer's ``Content-Range`` must continue exactly, else (or when the server ignores
    ``Range``) the body starts again from zero, which needs a seekable target. Wrong bytes are
    never appended. The announced length and ``expected_md5`` are checked at the end (the md5
    only with ``verify``, and computed only then). Tries without progress are bounded by the
    session's ``RetryPolicy.attempts``. ``stats``, if given, is filled in with what went over
    the wire. The first try goes over the session's lean wire (``xnat_sdk._wire``) when it has
    one (``lean_wire=False``: every try over httpx, for a file whose first try was already
    made, as by ``parallel``'s multiplexed pass); whatever that try does not finish plainly
    continues on the httpx path.
    """
    if update_func is None and verbose:
        update_func = progress_bar(f"Downloading {PurePosixPath(uri).name}")
    counted = stats if stats is not None else TransferStats()
    params = with_format(query, format)
    wanted = expected_md5 if verify else None
    progress = DownloadProgress(origin=stream_position(target_stream), hashing=bool(wanted))
    policy = session.retry_policy
    shown = shown_url(session.external_url(uri))
    stalls = 0
    hashers: list[_HashingThread] = []
    wire = _wire_of(session) if lean_wire else None
    try:
        while True:
            before = progress.done
            try:
                fetch = _Fetch(session, uri, params, timeout, chunk_size, update_func, hashers)
                if wire is not None:
                    first, wire = wire, None  # only the first try goes over the wire
                    if fetch.over_wire(first, target_stream, progress, counted):
                        break
                if fetch.run(target_stream, progress, counted):
                    break
            except httpx.TransportError as exc:
                stalls = 0 if progress.done > before else stalls + 1
                reason = type(exc).__name__
                if stalls >= policy.attempts:
                    raise XNATConnectionError(
                        f"GET {shown}: {reason} after {progress.done} bytes, {stalls} tries "
                        "in a row without progress"
                    ) from exc
                session.logger.debug(
                    "GET %s: %s after %d bytes; resuming", shown, reason, progress.done
                )
                if stalls:
                    time.sleep(policy.delay(stalls))
    finally:
        for hasher in hashers:
            hasher.close()
        if update_func is not None:
            update_func(progress.done, progress.total, True)
    verify_download(shown, progress, wanted)
    counted.bytes_written = progress.done
    return progress.done


def shown_url(url: str) -> str:
    """``url`` as logs and errors may show it (``redact_url``, skipped for the common URL
    without user info or query, which has nothing to hide: it costs more than a small GET)."""
    return redact_url(url) if "?" in url or "@" in url else url


def _wire_of(session: XNATSession) -> FileWire | None:
    """The session's lean wire, if it has one and is open (a closed session's requests go
    the httpx way, which refuses them)."""
    return None if session.closed else session.file_wire


@dataclass(frozen=True)
class _Fetch:
    """One request for the (rest of the) body of ``uri``."""

    session: XNATSession
    uri: str
    params: Query
    timeout: Timeout
    chunk_size: int
    update_func: UpdateFunc | None
    hashers: list[_HashingThread]

    def run(self, target: IO[bytes], progress: DownloadProgress, stats: TransferStats) -> bool:
        """Stream into ``target``; True once the body is complete, False to ask again."""
        ranged = progress.range_headers()
        with self.session.stream(
            "GET",
            self.uri,
            query=self.params,
            timeout=self.timeout,
            headers=ranged,
            accepted_status={200, 206} if ranged else {200},
        ) as response:
            stats.requests += 1
            try:
                if not begin_body(response, ranged is not None, target, progress, stats):
                    return False
                big = (progress.total or 0) >= THREADED_MD5_MIN
                if progress.hashing and progress.done == 0 and big:
                    progress.digest = _HashingThread()
                    self.hashers.append(progress.digest)
                for chunk in response.iter_bytes(self.chunk_size):
                    write_chunk(target, progress, chunk)
                    if self.update_func is not None:
                        self.update_func(progress.done, progress.total, False)
            finally:
                stats.bytes_received += response.num_bytes_downloaded
        return True

    def over_wire(
        self, wire: FileWire, target: IO[bytes], progress: DownloadProgress, stats: TransferStats
    ) -> bool:
        """The first try over the lean wire: True once the body is complete; False when the
        answer is not a plain 200 or the request failed before it (nothing was written, the
        httpx path takes over). A drop mid-body raises the httpx error, so the body is
        resumed with Range like any other."""
        request_target = wire.request_target(self.uri, self.params)
        if request_target is None:
            return False
        try:
            answer = wire.send("GET", request_target, timeout=self.timeout)
        except httpx.TransportError as exc:
            self.session.logger.debug("%s; handing over to httpx", exc)
            return False
        headers = answer.headers
        encoding = headers.get("content-encoding")
        if answer.status != 200 or encoding is not None:
            answer.close()
            pause_before_handover(self.session.retry_policy, answer)
            return False
        stats.requests += 1
        validator = headers.get("etag") or headers.get("last-modified")
        progress.announce(headers.get("content-length"), encoding, validator)
        hasher: _HashingThread | None = None
        if progress.hashing and (progress.total or 0) >= THREADED_MD5_MIN:
            progress.digest = hasher = _HashingThread()
            self.hashers.append(hasher)
        view = thread_buffer() if hasher is None else hasher.next_buffer()
        update = self.update_func
        try:
            while count := answer.readinto(view):
                chunk = view[:count]
                target.write(chunk)
                if hasher is None:
                    progress.digest.update(chunk)
                else:  # the helper thread hashes the buffer itself; read into the next one
                    hasher.feed(chunk)
                    view = hasher.next_buffer()
                progress.done += count
                stats.bytes_received += count
                if update is not None:
                    update(progress.done, progress.total, False)
        finally:
            answer.close()
        return True


def pause_before_handover(policy: RetryPolicy, answer: WireAnswer) -> None:
    """Before the httpx path repeats a first try answered with a status the policy retries
    (429, 503...), wait as it would have: the server's ``Retry-After`` or the first backoff."""
    if answer.status not in policy.statuses:
        return
    delay = retry_delay(policy, 1, 0.0, retry_after(answer.headers.get("retry-after")))
    if delay:
        time.sleep(delay)


class _HashingThread:
    """An md5 computed by a helper thread from a bounded queue of chunks: hashlib releases
    the GIL on large buffers, so a big body is hashed while the next chunks are received and
    written (the digest is only read once the body is complete)."""

    def __init__(self, depth: int = 8) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._chunks: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name="xnat-sdk-md5", daemon=True)
        self._thread.start()
        self._open = True
        # Buffers lent to the reader (``next_buffer``/``feed``): with ``depth`` chunks queued
        # and one being hashed, a buffer fed ``depth + 2`` chunks ago is free to fill again.
        self._ring: list[memoryview] = []
        self._ring_size = depth + 3
        self._turn = -1

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._md5.update(chunk)

    def update(self, data: bytes | memoryview, /) -> None:
        """Queue ``data`` (a view of a reused buffer is copied: it changes after this call)."""
        self._chunks.put(data if isinstance(data, bytes) else bytes(data))

    def next_buffer(self) -> memoryview:
        """A buffer to read the next chunk into and ``feed`` without a copy (1 MiB copies and
        fresh allocations cost about 0.5 s of CPU per GiB)."""
        self._turn = (self._turn + 1) % self._ring_size
        if self._turn == len(self._ring):  # made on first use: small bodies need few
            self._ring.append(memoryview(bytearray(BUFFER_SIZE)))
        return self._ring[self._turn]

    def feed(self, chunk: memoryview) -> None:
        """Queue ``chunk``, a view of the buffer ``next_buffer`` gave last (not copied)."""
        self._chunks.put(chunk)

    def close(self) -> None:
        """Hash what is queued and end the thread (also when the download failed)."""
        if self._open:
            self._open = False
            self._chunks.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        return self._md5.hexdigest()


def begin_body(
    response: httpx.Response,
    ranged: bool,
    target: IO[bytes],
    progress: DownloadProgress,
    stats: TransferStats,
) -> bool:
    """Judge the answer to a (``ranged``) body request before its bytes are read: True when
    its body is to be appended to ``target``, False when it must be asked for again in full
    (a part that does not continue ours; ``target`` was rewound)."""
    headers = response.headers
    if not ranged:
        validator = headers.get("etag") or headers.get("last-modified")
        progress.announce(headers.get("content-length"), headers.get("content-encoding"), validator)
    elif _continues(response, progress):
        stats.resumes += 1
    else:
        progress.rewind(target, str(response.url))
        stats.restarts += 1
        if response.status_code != 200:
            return False
        progress.total = announced_length(
            headers.get("content-length"), headers.get("content-encoding")
        )
    return True


def write_chunk(target: IO[bytes], progress: DownloadProgress, chunk: bytes) -> None:
    """Append ``chunk`` of the body to ``target`` and to the running digest."""
    target.write(chunk)
    progress.digest.update(chunk)
    progress.done += len(chunk)


def verify_download(shown: str, progress: DownloadProgress, expected_md5: str | None) -> None:
    """Refuse a finished body whose length or md5 is not what was announced/catalogued."""
    if progress.total is not None and progress.done != progress.total:
        raise XNATDigestError(
            f"{shown}: got {progress.done} bytes, the server announced {progress.total}"
        )
    actual = progress.digest.hexdigest()
    if expected_md5 and actual != expected_md5.lower():
        raise XNATDigestError(f"{shown}: md5 {actual} does not match the catalog's {expected_md5}")


def stream_position(stream: IO[bytes]) -> int | None:
    """Where ``stream`` is now, if it can be rewound to there (``None`` when it cannot)."""
    try:
        return stream.tell() if stream.seekable() else None
    except (OSError, ValueError):
        return None


def download_file(
    session: XNATSession,
    uri: str,
    target: str | os.PathLike[str],
    *,
    format: str | None = None,
    query: Query | None = None,
    verbose: bool = False,
    timeout: Timeout = None,
    expected_md5: str | None = None,
    stats: TransferStats | None = None,
    verify: bool = True,
) -> Path:
    """Download ``uri`` to the file ``target`` atomically (resumed after dropped connections,
    verified before the rename: length, and ``expected_md5`` unless ``verify=False``); return
    its path.

    A ``target`` whose last part is not a plain file name (``..``, NUL, too long) or that is
    an existing directory is refused before any request."""
    destination = Path(target)
    check_file_name(PurePosixPath(os.fspath(target).replace(os.sep, "/")).name)
    if destination.is_dir():
        raise XNATValueError(f"cannot download to {destination}: it is a directory")
    with atomic_file(destination) as handle:
        download_stream(
            session,
            uri,
            handle,
            format=format,
            query=query,
            verbose=verbose,
            timeout=timeout,
            expected_md5=expected_md5,
            stats=stats,
            verify=verify,
        )
    return destination


def upload(
    session: XNATSession,
    uri: str,
    source: str | bytes | os.PathLike[str] | IO[bytes],
    *,
    query: Query | None = None,
    content_type: str | None = None,
    method: Literal["put", "post"] = "put",
    overwrite: bool = False,
    timeout: Timeout = None,
) -> httpx.Response:
    """Send a file (a path), bytes or an open binary stream as the body of ``uri``.

    A path is streamed from disk, never read whole. ``str`` is always taken as a path, never as
    content (xnatpy's guess between the two is a known trap): pass bytes to upload text.
    """
    answer = _upload(session, uri, source, query, content_type, method, overwrite, timeout)
    return answer if isinstance(answer, httpx.Response) else answer.response()


def send_file(
    session: XNATSession, uri: str, path: Path, *, overwrite: bool, lean_wire: bool = True
) -> None:
    """Upload the file at ``path`` to ``uri`` as ``upload`` does, without making a response
    object nobody reads (about 0.15 ms of CPU per file in a parallel upload of many).
    ``lean_wire=False`` sends every try through httpx (the first try was made elsewhere)."""
    _upload(session, uri, path, None, None, "put", overwrite, None, lean_wire)


def _upload(
    session: XNATSession,
    uri: str,
    source: str | bytes | os.PathLike[str] | IO[bytes],
    query: Query | None,
    content_type: str | None,
    method: Literal["put", "post"],
    overwrite: bool,
    timeout: Timeout,
    lean_wire: bool = True,
) -> httpx.Response | _WireReply:
    params, headers, repeatable = upload_request(query, content_type, method, overwrite)
    verb = method.upper()

    def send(body: bytes | IO[bytes]) -> httpx.Response | _WireReply:
        wire = _wire_of(session) if lean_wire else None
        if wire is not None:
            reply = _upload_over_wire(
                session, wire, verb, uri, params, headers, body, timeout, repeatable
            )
            if reply is not None:
                return reply
        return session.request(
            verb,
            uri,
            query=params,
            content=body,
            headers=headers,
            timeout=timeout,
            idempotent=repeatable,
        )

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise XNATValueError(f"cannot upload {path}: it is not a file")
        with path.open("rb") as stream:
            return send(stream)
    return send(source)


@dataclass(frozen=True)
class _WireReply:
    """An upload's answer as it came over the lean wire (made an ``httpx.Response`` only
    when someone asks for one)."""

    session: XNATSession
    method: str
    uri: str
    params: Query
    status: int
    headers: list[tuple[str, str]]
    content: bytes

    def response(self) -> httpx.Response:
        url = self.session.external_url(self.uri)
        query = str(normalize_query(self.params))
        request = httpx.Request(self.method, f"{url}?{query}" if query else url)
        return httpx.Response(
            self.status, headers=self.headers, content=self.content, request=request
        )


def _upload_over_wire(
    session: XNATSession,
    wire: FileWire,
    method: str,
    uri: str,
    params: Query,
    headers: Mapping[str, str],
    body: bytes | IO[bytes],
    timeout: Timeout,
    repeatable: bool,
) -> _WireReply | None:
    """The first try of an upload over the lean wire: the accepted answer, or ``None`` to
    hand over to the httpx path (with ``body`` rewound), which retries and renews a login.

    What must not be repeated is not handed over once it may have reached the server: a lost
    answer raises ``XNATOutcomeUnknownError``, an error status (but 401: the server refused
    it unapplied) the same typed error as the httpx path would."""
    request_target = wire.request_target(uri, params)
    start = stream_position(body) if not isinstance(body, bytes) else 0
    length = _body_length(body)
    if request_target is None or start is None or length is None:
        return None
    try:
        answer = wire.send(
            method, request_target, headers=headers, body=body, length=length, timeout=timeout
        )
        try:
            content = answer.read()
        finally:
            answer.close()
    except httpx.TransportError as exc:
        shown = f"{method} {shown_url(session.external_url(uri))}"
        failure = transport_failure(shown, exc, 1, repeatable)
        if isinstance(failure, XNATOutcomeUnknownError):
            raise failure from exc
        session.logger.debug("%s; handing over to httpx", exc)
        _rewind(body, start)
        return None
    reply = _WireReply(session, method, uri, params, answer.status, answer.headers.items(), content)
    if answer.status in DEFAULT_ACCEPTED[method]:
        return reply
    if answer.status != 401 and not repeatable:
        check_status(reply.response(), None)  # raises the typed error
    pause_before_handover(session.retry_policy, answer)
    _rewind(body, start)
    return None


def _body_length(body: bytes | IO[bytes]) -> int | None:
    """How many bytes of ``body`` are left to send (``None``: unknown, e.g. a pipe)."""
    if isinstance(body, bytes):
        return len(body)
    try:
        position = body.tell()
        try:
            return os.fstat(body.fileno()).st_size - position
        except (OSError, AttributeError, io.UnsupportedOperation):
            end = body.seek(0, io.SEEK_END)
            body.seek(position)
            return end - position
    except (OSError, ValueError):
        return None


def _rewind(body: bytes | IO[bytes], start: int) -> None:
    if not isinstance(body, bytes):
        body.seek(start)


def upload_request(
    query: Query | None,
    content_type: str | None,
    method: Literal["put", "post"],
    overwrite: bool,
) -> tuple[dict[str, str | int | float | bool], dict[str, str], bool]:
    """The query, headers and repeatability of an upload request (sync and async alike)."""
    params = dict(with_format(query, None))
    params.setdefault("inbody", "true")
    if overwrite:
        params["overwrite"] = "true"
    headers = {"Content-Type": content_type or "application/octet-stream"}
    # Only a PUT that overwrites may be repeated after a transient failure: without
    # overwrite, a first try the server applied would make the repeat a 409.
    return params, headers, method == "put" and overwrite


def iter_tree(directory: Path) -> Iterator[tuple[Path, str]]:
    """Every regular file below ``directory`` with its relative POSIX path, sorted.

    Symbolic links are followed only where they stay inside ``directory``: a link that leads
    outside (to a file or a folder) is skipped with a ``UserWarning`` naming it, so an upload
    never publishes files the caller did not put in the tree. Links to folders inside the tree
    are not descended into either: their files are already uploaded under their real path.
    """
    root = directory.resolve()
    found: list[tuple[Path, str]] = []
    for current, folders, names in os.walk(directory):  # never follows folder links
        here = Path(current)
        for name in folders:
            _warn_if_escaping(here / name, root)
        for name in names:
            path = here / name
            if _warn_if_escaping(path, root) or not path.is_file():
                continue
            found.append((path, path.relative_to(directory).as_posix()))
    yield from sorted(found)


def _warn_if_escaping(path: Path, root: Path) -> bool:
    """True (after a warning) when ``path`` is a symbolic link that leads outside ``root``."""
    if not path.is_symlink() or path.resolve().is_relative_to(root):
        return False
    warnings.warn(
        f"not uploading {path}: it is a symbolic link to {path.resolve()}, outside {root}",
        UserWarning,
        stacklevel=3,
    )
    return True


def upload_dir(
    session: XNATSession,
    resource_uri: str,
    directory: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    method: UploadMethod = "tgz_file",
) -> None:
    """Upload every file below ``directory`` into the resource at ``resource_uri``."""
    source = Path(directory)
    if not source.is_dir():
        raise XNATValueError(f"cannot upload {source}: it is not a directory")
    if method not in UPLOAD_METHODS:
        raise XNATValueError(f"unknown upload method {method!r}; use one of {UPLOAD_METHODS}")
    files = list(iter_tree(source))
    if method == "per_file":
        for path, relative in files:
            upload(session, f"{resource_uri}/files/{relative}", path, overwrite=overwrite)
        return
    compress = method.startswith("tgz")
    name = "upload.tar.gz" if compress else "upload.tar"
    query = {"extract": "true"}
    if method.endswith("memory"):
        buffer = io.BytesIO()
        write_tar(buffer, files, compress)
        upload(
            session,
            f"{resource_uri}/files/{name}",
            buffer.getvalue(),
            query=query,
            overwrite=overwrite,
        )
        return
    with tempfile.TemporaryDirectory() as temp_dir:
        archive = Path(temp_dir) / name
        with archive.open("wb") as handle:
            write_tar(handle, files, compress)
        upload(session, f"{resource_uri}/files/{name}", archive, query=query, overwrite=overwrite)


def write_tar(target: IO[bytes], files: list[tuple[Path, str]], compress: bool) -> None:
    """Pack ``files`` (path, name in the archive) into a tar (gzip-compressed if asked).

    Links are stored as the files they point to (``iter_tree`` let only links inside the tree
    through), so the server gets the same files as with ``per_file``."""
    mode: Literal["w:gz", "w"] = "w:gz" if compress else "w"
    with tarfile.open(fileobj=target, mode=mode, dereference=True) as archive:
        for path, relative in files:
            archive.add(path, arcname=relative, recursive=False)


def safe_member_path(target_dir: Path, name: str) -> Path:
    """Where archive member ``name`` goes below ``target_dir``; refuses escaping names."""
    member = _member(target_dir, name)
    return _resolved_inside(target_dir, target_dir.resolve(), member.parts, name)


def member_paths(target_dir: Path, names: Iterable[str]) -> list[Path]:
    """``safe_member_path`` of each of ``names``, with each distinct folder resolved once (not
    twice per file: for 2,000 files into one folder that was most of the set-up's cost)."""
    root = target_dir.resolve()
    folders: dict[PurePosixPath, Path] = {PurePosixPath(): root}
    found: list[Path] = []
    for name in names:
        member = _member(target_dir, name)
        folder = folders.get(member.parent)
        if folder is None:
            folder = _resolved_inside(target_dir, root, member.parent.parts, name)
            folders[member.parent] = folder
        destination = folder / member.name
        if destination.is_symlink():  # where it leads decides, as in safe_member_path
            destination = safe_member_path(target_dir, name)
        found.append(destination)
    return found


def _resolved_inside(target_dir: Path, root: Path, parts: tuple[str, ...], name: str) -> Path:
    """``target_dir``/``parts`` with links resolved, refused unless it stays inside ``root``
    (``target_dir`` resolved); ``name`` is the archive member it is for."""
    resolved = (target_dir / Path(*parts)).resolve()
    if not resolved.is_relative_to(root):
        raise XNATValueError(f"archive member {name!r} would be written outside {target_dir}")
    return resolved


def _member(target_dir: Path, name: str) -> PurePosixPath:
    """``name`` as a relative path that cannot climb out of ``target_dir`` (else an
    ``XNATValueError``); symbolic links on the way are the callers' check."""
    if "\0" in name:
        raise XNATValueError(f"archive member {name!r} contains a NUL character")
    member = PurePosixPath(name.replace("\\", "/"))
    if not member.parts:
        raise XNATValueError(f"archive member {name!r} has no file name")
    if member.is_absolute() or ".." in member.parts or (member.parts and ":" in member.parts[0]):
        raise XNATValueError(f"archive member {name!r} would be written outside {target_dir}")
    for part in member.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise XNATValueError(
                f"archive member {name[:80]!r}... has a name part of {len(os.fsencode(part))} "
                f"bytes; file systems allow {NAME_MAX}"
            )
    return member


def extract_zip(archive: IO[bytes], target_dir: Path) -> list[Path]:
    """Unpack ``archive`` into ``target_dir``; every file is written atomically."""
    written: list[Path] = []
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        for info in members:  # check all names first: refuse the archive before writing
            safe_member_path(target_dir, info.filename)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise XNATValueError(f"archive member {info.filename!r} is a symbolic link")
        for info in members:
            destination = safe_member_path(target_dir, info.filename)
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            with zipped.open(info) as source, atomic_file(destination) as handle:
                shutil.copyfileobj(source, handle)
            written.append(destination)
    return written


def download_zip_to_dir(
    session: XNATSession,
    uri: str,
    target_dir: str | os.PathLike[str],
    *,
    verbose: bool = False,
    query: Mapping[str, str] | None = None,
) -> list[Path]:
    """Download ``uri`` as a zip and unpack it below ``target_dir``; return the files written."""
    destination = Path(target_dir)
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as spool:
        download_stream(session, uri, spool, format="zip", query=query, verbose=verbose)
        spool.seek(0)
        return extract_zip(spool, destination)


def with_format(
    query: Query | None, format: str | None
) -> list[tuple[str, str | int | float | bool]]:
    """``query`` as pairs, with ``format=...`` appended when asked."""
    pairs: list[tuple[str, str | int | float | bool]] = []
    if query is not None:
        pairs.extend(query.items() if isinstance(query, Mapping) else query)
    if format is not None:
        pairs.append(("format", format))
    return pairs
