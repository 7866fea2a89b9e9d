"""Async downloads and uploads with the rules of ``xnat_sdk.transfer``.

A download is resumed with ``Range`` after a dropped connection, judged by
``transfer.begin_body``, verified by ``transfer.verify_download`` (length and md5) and renamed
into place by ``transfer.atomic_file`` only when complete; an upload is built by
``transfer.upload_request``. Only the awaiting differs. File writes are small and local and are
done directly; packing a tar for ``upload_dir`` runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Literal, TypeVar

import httpx

from xnat_sdk import transfer
from xnat_sdk._http import Query
from xnat_sdk.errors import XNATConnectionError, XNATValueError, redact_url

if TYPE_CHECKING:
    from xnat_sdk.aio.session import AsyncXNATSession

T = TypeVar("T")

#: Called with the number of body bytes each chunk adds (for aggregated progress displays).
OnBytes = Callable[[int], None]


async def download_stream(
    session: AsyncXNATSession,
    uri: str,
    target: IO[bytes],
    *,
    format: str | None = None,
    query: Query | None = None,
    expected_md5: str | None = None,
    stats: transfer.TransferStats | None = None,
    on_bytes: OnBytes | None = None,
) -> int:
    """Write the body of ``uri`` to ``target`` as ``transfer.download_stream`` does (resumed,
    verified); return the number of bytes."""
    counted = stats if stats is not None else transfer.TransferStats()
    params = transfer.with_format(query, format)
    progress = transfer.DownloadProgress(origin=transfer.stream_position(target))
    policy = session.retry_policy
    shown = redact_url(session.external_url(uri))
    stalls = 0
    while True:
        before = progress.done
        try:
            if await _fetch(session, uri, params, target, progress, counted, on_bytes):
                break
        except httpx.TransportError as exc:
            stalls = 0 if progress.done > before else stalls + 1
            reason = type(exc).__name__
            if stalls >= policy.attempts:
                raise XNATConnectionError(
                    f"GET {shown}: {reason} after {progress.done} bytes, {stalls} tries "
                    "in a row without progress"
                ) from exc
            session.logger.debug("GET %s: %s after %d bytes; resuming", shown, reason, before)
            if stalls:
                await asyncio.sleep(policy.delay(stalls))
    transfer.verify_download(shown, progress, expected_md5)
    counted.bytes_written = progress.done
    return progress.done


async def _fetch(
    session: AsyncXNATSession,
    uri: str,
    params: Query,
    target: IO[bytes],
    progress: transfer.DownloadProgress,
    stats: transfer.TransferStats,
    on_bytes: OnBytes | None,
) -> bool:
    """One request for the (rest of the) body; True once complete, False to ask again."""
    ranged = progress.range_headers()
    async with session.stream(
        "GET",
        uri,
        query=params,
        headers=ranged,
        accepted_status={200, 206} if ranged else {200},
    ) as response:
        stats.requests += 1
        try:
            done_before = progress.done
            if not transfer.begin_body(response, ranged is not None, target, progress, stats):
                return False
            if on_bytes is not None and progress.done < done_before:
                on_bytes(progress.done - done_before)  # restarted: take back what was counted
            async for chunk in response.aiter_bytes():  # as received: a drop loses nothing held
                transfer.write_chunk(target, progress, chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
        finally:
            stats.bytes_received += response.num_bytes_downloaded
    return True


async def download_file(
    session: AsyncXNATSession,
    uri: str,
    target: str | os.PathLike[str],
    *,
    format: str | None = None,
    expected_md5: str | None = None,
    stats: transfer.TransferStats | None = None,
    on_bytes: OnBytes | None = None,
) -> Path:
    """Download ``uri`` to ``target`` atomically and verified, as ``transfer.download_file``."""
    destination = Path(target)
    transfer.check_file_name(PurePosixPath(os.fspath(target).replace(os.sep, "/")).name)
    if destination.is_dir():
        raise XNATValueError(f"cannot download to {destination}: it is a directory")
    with transfer.atomic_file(destination) as handle:
        await download_stream(
            session,
            uri,
            handle,
            format=format,
            expected_md5=expected_md5,
            stats=stats,
            on_bytes=on_bytes,
        )
    return destination


def _file_chunks(path: Path) -> Callable[[], AsyncIterator[bytes]]:
    """A factory of chunk streams of ``path`` (a fresh one per try, so a retry rereads it)."""

    async def chunks() -> AsyncIterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(transfer.DEFAULT_CHUNK):
                yield chunk

    return chunks


async def upload(
    session: AsyncXNATSession,
    uri: str,
    source: str | bytes | os.PathLike[str],
    *,
    query: Query | None = None,
    content_type: str | None = None,
    method: Literal["put", "post"] = "put",
    overwrite: bool = False,
) -> httpx.Response:
    """Send a file (a path, streamed from disk) or bytes as the body of ``uri``, with the
    query, headers and retry rule of ``transfer.upload`` (``str`` is always a path)."""
    params, headers, repeatable = transfer.upload_request(query, content_type, method, overwrite)
    body: bytes | Callable[[], AsyncIterator[bytes]]
    if isinstance(source, bytes):
        body = source
    else:
        path = Path(source)
        if not path.is_file():
            raise XNATValueError(f"cannot upload {path}: it is not a file")
        body = _file_chunks(path)
    return await session.request(
        method.upper(), uri, query=params, content=body, headers=headers, idempotent=repeatable
    )


async def upload_dir(
    session: AsyncXNATSession,
    resource_uri: str,
    directory: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    method: transfer.UploadMethod = "tgz_file",
    concurrency: int = 8,
) -> None:
    """Upload every file below ``directory`` into the resource at ``resource_uri`` (the methods
    of ``transfer.upload_dir``; ``per_file`` sends up to ``concurrency`` files at once)."""
    source = Path(directory)
    if not source.is_dir():
        raise XNATValueError(f"cannot upload {source}: it is not a directory")
    if method not in transfer.UPLOAD_METHODS:
        raise XNATValueError(
            f"unknown upload method {method!r}; use one of {transfer.UPLOAD_METHODS}"
        )
    files = list(transfer.iter_tree(source))
    if method == "per_file":
        slots = asyncio.Semaphore(max(1, concurrency))

        async def one(path: Path, relative: str) -> None:
            async with slots:
                await upload(session, f"{resource_uri}/files/{relative}", path, overwrite=overwrite)

        await run_all([one(path, relative) for path, relative in files])
        return
    compress = method.startswith("tgz")
    name = "upload.tar.gz" if compress else "upload.tar"
    target = f"{resource_uri}/files/{name}"
    query = {"extract": "true"}
    if method.endswith("memory"):
        buffer = io.BytesIO()
        await asyncio.to_thread(transfer.write_tar, buffer, files, compress)
        await upload(session, target, buffer.getvalue(), query=query, overwrite=overwrite)
        return
    with _temporary(name) as archive:
        with archive.open("wb") as handle:
            await asyncio.to_thread(transfer.write_tar, handle, files, compress)
        await upload(session, target, archive, query=query, overwrite=overwrite)


@contextmanager
def _temporary(name: str) -> Generator[Path]:
    with tempfile.TemporaryDirectory(prefix="xnat-sdk-") as folder:
        yield Path(folder) / name


async def run_all(work: Sequence[Awaitable[T]]) -> list[T]:
    """Await ``work`` together and return the results in order; the first failure cancels the
    rest (and waits for them) before it is raised, so nothing keeps running unseen."""
    tasks = [asyncio.ensure_future(item) for item in work]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
