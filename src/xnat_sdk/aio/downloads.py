"""Many downloads at once: what to fetch for a file, a resource or an image session, and one
aggregated progress display for all of them.

``plan_*`` turn objects into ``PlannedFile``s (URI, target path, catalog md5 and size) from
listing rows; ``download_planned`` fetches them with a bound on files in flight, each verified
and written atomically by ``xnat_sdk.aio.transfer.download_file``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from xnat_sdk.aio import transfer as aio_transfer
from xnat_sdk.errors import XNATValueError
from xnat_sdk.transfer import safe_member_path

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from xnat_sdk.aio.session import AsyncXNATSession
    from xnat_sdk.listing import Row


@dataclass(frozen=True)
class PlannedFile:
    """One file to download: from ``uri`` to ``target``, checked against ``md5``."""

    uri: str
    target: Path
    md5: str | None
    size: int | None


def planned_from_row(row: Row, target: Path) -> PlannedFile:
    """The download of the file described by a ``files`` listing row."""
    size = row.get("Size", "")
    return PlannedFile(
        uri=row.get("URI", ""),
        target=target,
        md5=row.get("digest") or None,
        size=int(size) if size.isdigit() else None,
    )


def scan_file_path(row: Row) -> str:
    """Where a row of ``{experiment}/scans/ALL/files`` goes below the session's folder, as XNAT
    lays out its zip: ``scans/{scan}/resources/{resource label}/files/{path}``."""
    uri = row.get("URI", "")
    _, found, rest = uri.partition("/scans/")
    scan, _, rest = rest.partition("/resources/")
    _, _, path = rest.partition("/files/")
    if not found or not scan or not path:
        raise XNATValueError(f"{uri!r} is not the URI of a scan file")
    label = row.get("collection") or rest.partition("/")[0]
    return f"scans/{scan}/resources/{label}/files/{path}"


async def plan_rows(
    session: AsyncXNATSession, listing_uri: str, folder: Path, placed: bool
) -> list[PlannedFile]:
    """The files of the ``files`` listing at ``listing_uri`` below ``folder``: at their scan
    layout path (``placed``) or their path inside the resource. Names that would lead outside
    ``folder`` are refused before anything is written."""
    rows = await session.listing_rows(listing_uri, {"format": "json"})
    planned: list[PlannedFile] = []
    for row in rows:
        uri = row.get("URI", "")
        relative = scan_file_path(row) if placed else uri.partition("/files/")[2] or row["Name"]
        planned.append(planned_from_row(row, safe_member_path(folder, relative)))
    return planned


class BulkProgress:
    """One rich progress bar for many transfers (files done of planned, bytes), shown on a
    terminal; a silent counter otherwise."""

    def __init__(self, description: str, show: bool | None = None) -> None:
        self.description = description
        self.files_total = 0
        self.files_done = 0
        self.bytes_done = 0
        self._bytes_total: int | None = 0
        visible = sys.stderr.isatty() if show is None else show
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if visible:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[files]}"),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=Console(file=sys.stderr),
                transient=True,
            )
            self._task = self._progress.add_task(description, total=None, files="")

    def __enter__(self) -> BulkProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def plan(self, files: Sequence[PlannedFile]) -> None:
        """Count ``files`` into the totals."""
        self.files_total += len(files)
        for file in files:
            if file.size is None or self._bytes_total is None:
                self._bytes_total = None
            else:
                self._bytes_total += file.size
        self._refresh()

    def advance(self, count: int) -> None:
        """``count`` more body bytes arrived (negative when a restarted download takes back)."""
        self.bytes_done += count
        self._refresh()

    def file_done(self) -> None:
        self.files_done += 1
        self._refresh()

    def _refresh(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task,
                completed=self.bytes_done,
                total=self._bytes_total,
                files=f"{self.files_done}/{self.files_total} files",
            )


async def download_planned(
    session: AsyncXNATSession,
    files: Sequence[PlannedFile],
    concurrency: int,
    progress: BulkProgress,
) -> list[Path]:
    """Download ``files`` with at most ``concurrency`` at once; return the paths in order."""
    if concurrency < 1:
        raise XNATValueError(f"concurrency must be at least 1, not {concurrency}")
    targets = [file.target for file in files]
    if len(set(targets)) != len(targets):
        raise XNATValueError("two downloads would write the same file; give distinct targets")
    slots = asyncio.Semaphore(concurrency)

    async def one(file: PlannedFile) -> Path:
        async with slots:
            path = await aio_transfer.download_file(
                session, file.uri, file.target, expected_md5=file.md5, on_bytes=progress.advance
            )
        progress.file_done()
        return path

    return await aio_transfer.run_all([one(file) for file in files])
