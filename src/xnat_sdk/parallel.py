"""Many files at once: one thread multiplexing keep-alive connections, then a pool of threads.

Small files are dominated by round trips, not bandwidth, so running several requests at once is
what makes 2,000 of them fast. Where the session's lean wire applies, the first try of every
file is made by ``_multiplex`` from this thread over ``max_workers`` connections (threads would
spend their time handing the GIL to each other); each file it does not finish plainly, and
every file where it does not apply, is then moved exactly as a single transfer is
(``transfer.atomic_file`` + ``transfer.download_stream``: written beside its target, verified by
length and md5, renamed only when complete; ``transfer.send_file`` for uploads) on a pool of
threads. This module decides how many run at once, sums their progress and reports failures by
file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from xnat_sdk import _multiplex, transfer
from xnat_sdk.errors import XNATError, XNATValueError

if TYPE_CHECKING:
    from xnat_sdk._wire import FileWire
    from xnat_sdk.objects import FileData
    from xnat_sdk.session import XNATSession

T = TypeVar("T")

DEFAULT_WORKERS = 8
#: httpx keeps at most 20 idle connections per client: more threads would open and close a
#: connection per request instead of reusing one.
MAX_WORKERS = 20


class XNATTransferError(XNATError):
    """One or more files of a parallel transfer failed; none of them was left half-written.

    ``failures`` maps each failed file (its target path for downloads, its URI for uploads) to
    its error; the first one is also the ``__cause__``. Files that had not started when the
    first failure happened were not attempted; ``completed`` lists those that finished.
    """

    def __init__(self, failures: dict[str, Exception], completed: list[str], total: int) -> None:
        self.failures = failures
        self.completed = completed
        first, error = next(iter(failures.items()))
        others = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(
            f"{first}: {error}{others}; {len(completed)} of {total} files were transferred"
        )


def check_workers(max_workers: int) -> int:
    """``max_workers`` if it is a usable pool size, else a clear ``XNATValueError``."""
    if isinstance(max_workers, bool) or not 1 <= max_workers <= MAX_WORKERS:
        raise XNATValueError(f"max_workers must be between 1 and {MAX_WORKERS}, not {max_workers}")
    return max_workers


class _SummedProgress:
    """One progress report for many transfers: the sum of each one's bytes so far."""

    def __init__(self, update: transfer.UpdateFunc | None, total: int | None) -> None:
        self._update = update
        self._total = total
        self._done: dict[int, int] = {}
        self._sum = 0  # of ``_done``'s values, kept as they change (not summed per chunk)
        self._lock = threading.Lock()

    def for_item(self, index: int) -> transfer.UpdateFunc | None:
        if self._update is None:
            return None

        def update(done: int, _total: int | None, _finished: bool) -> None:
            with self._lock:
                self._sum += done - self._done.get(index, 0)
                self._done[index] = done
                self._report(False)

        return update

    def finish(self) -> None:
        if self._update is not None:
            with self._lock:
                self._report(True)

    def _report(self, finished: bool) -> None:
        assert self._update is not None
        self._update(self._sum, self._total, finished)


def run_all(
    names: Sequence[str],
    jobs: Sequence[Callable[[], T]],
    max_workers: int,
    *,
    finished: Mapping[int, T] | None = None,
    failed: Mapping[int, Exception] | None = None,
) -> list[T]:
    """Run ``jobs`` on ``max_workers`` threads and return their results in order.

    At the first failure no further job starts; those running are let finish (each one's
    target is complete or absent), then ``XNATTransferError`` names every failed job. The
    threads take the next job from a shared counter: no future or queue item per job, whose
    cost (about 0.2 ms of CPU each) showed in transfers of many small files. ``finished``
    holds results obtained before (those jobs are not run), ``failed`` failures met before
    (then no job starts).
    """
    check_workers(max_workers)
    results: dict[int, T] = dict(finished or {})
    errors: dict[int, BaseException] = dict(failed or {})
    following = iter([index for index in range(len(jobs)) if index not in results])
    lock = threading.Lock()
    stop = threading.Event()
    if errors:
        stop.set()

    def work() -> None:
        while not stop.is_set():
            with lock:
                index = next(following, None)
            if index is None:
                return
            try:
                results[index] = jobs[index]()
            except BaseException as error:  # reported (or re-raised) below
                errors[index] = error
                stop.set()

    threads = [
        threading.Thread(target=work, name=f"xnat-transfer-{number}", daemon=True)
        for number in range(min(max_workers, len(jobs) - len(results)))
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:  # after an interrupt, nothing new starts; running jobs finish
        stop.set()
        for thread in threads:
            thread.join()
    failures: dict[str, Exception] = {}
    for index in sorted(errors):
        error = errors[index]
        if not isinstance(error, Exception):
            raise error  # KeyboardInterrupt and the like are not a file's failure
        failures[names[index]] = error
    if failures:
        completed = [names[i] for i in sorted(results)]
        raise XNATTransferError(failures, completed, len(jobs)) from next(iter(failures.values()))
    return [results[i] for i in range(len(jobs))]


def download_files(
    session: XNATSession,
    files: Iterable[FileData],
    target_dir: str | os.PathLike[str],
    *,
    max_workers: int = DEFAULT_WORKERS,
    verbose: bool = False,
    update_func: transfer.UpdateFunc | None = None,
    verify: bool = True,
) -> list[Path]:
    """Download ``files`` below ``target_dir`` (each at its path in its resource), at most
    ``max_workers`` at a time; return the paths written, in the order of ``files``.

    Every path is checked before the first request: one that would leave ``target_dir`` or that
    two files share is refused with ``XNATValueError``. ``update_func`` (or, with ``verbose``, a
    rich progress bar) sees the bytes of all files summed. Each file is checked against its
    catalog md5 unless ``verify=False`` (then by length only, and no md5 is computed).
    """
    check_workers(max_workers)
    chosen = list(files)
    root = Path(target_dir)
    targets = transfer.member_paths(root, [file.path for file in chosen])
    _refuse_duplicates(targets)
    sizes = [file.size for file in chosen]
    total = None if None in sizes else sum(size or 0 for size in sizes)
    if update_func is None and verbose:
        update_func = transfer.progress_bar(f"Downloading {len(chosen)} files")
    progress = _SummedProgress(update_func, total)
    tried = _Tried()

    def job(index: int) -> Callable[[], Path]:
        file, target = chosen[index], targets[index]

        def download() -> Path:
            tried.pause(index)
            with transfer.atomic_file(target) as handle:
                transfer.download_stream(
                    session,
                    file.uri,
                    handle,
                    expected_md5=file.digest,
                    verify=verify,
                    update_func=progress.for_item(index),
                    lean_wire=tried.fresh(index),
                )
            return target

        return download

    try:
        wire = _multiplexed_wire(session, len(chosen), max_workers)
        if wire is not None:
            items = _download_items(wire, chosen, targets, verify, progress)
            tried.take(_multiplex.download(wire, session.retry_policy, items, max_workers))
        return run_all(
            [str(t) for t in targets],
            [job(i) for i in range(len(chosen))],
            max_workers,
            finished={index: targets[index] for index in tried.done},
            failed=tried.errors,
        )
    finally:
        progress.finish()


def _multiplexed_wire(session: XNATSession, count: int, max_workers: int) -> FileWire | None:
    """The session's lean wire if the first tries of ``count`` files are to be multiplexed
    over it: at least two files and connections, an open session with a wire, plain http, no
    event hooks (they may wait for other requests, which one thread cannot honour)."""
    if count < 2 or max_workers < 2 or session.closed:
        return None
    wire = session.file_wire
    if wire is None or wire.has_hooks or wire.address[0] != "http":
        return None
    return wire


def _download_items(
    wire: FileWire,
    chosen: list[FileData],
    targets: list[Path],
    verify: bool,
    progress: _SummedProgress,
) -> list[_multiplex.DownloadItem]:
    """The files the multiplexed pass can fetch (on the wire's server, in folders that could
    be created: each created once, not once per file)."""
    folders: dict[Path, bool] = {}
    items: list[_multiplex.DownloadItem] = []
    for index, (file, target) in enumerate(zip(chosen, targets, strict=True)):
        request_target = wire.request_target(file.uri, None)
        folder = target.parent
        if folder not in folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                folders[folder] = True
            except OSError:  # the threaded path meets it again and reports it
                folders[folder] = False
        if request_target is None or not folders[folder]:
            continue
        md5 = file.digest if verify else None
        item = _multiplex.DownloadItem(index, request_target, target, md5, progress.for_item(index))
        items.append(item)
    return items


class _Tried:
    """What the multiplexed pass did with each file, for the threaded pass that follows."""

    def __init__(self) -> None:
        self.done: set[int] = set()
        self.errors: dict[int, Exception] = {}
        self._handed_over: dict[int, float] = {}

    def take(self, outcome: _multiplex.Outcome) -> None:
        self.done = outcome.done
        self.errors = outcome.errors
        self._handed_over = outcome.handed_over

    def fresh(self, index: int) -> bool:
        """Whether the file's next try is its first (then it may go over the lean wire)."""
        return index not in self._handed_over

    def pause(self, index: int) -> None:
        """Wait as the retry policy (or the server's Retry-After) asked after the first try."""
        delay = self._handed_over.get(index, 0.0)
        if delay > 0:
            time.sleep(delay)


def upload_files(
    session: XNATSession,
    uploads: Sequence[tuple[Path, str]],
    *,
    overwrite: bool = False,
    max_workers: int = DEFAULT_WORKERS,
) -> None:
    """Upload each local file to its URI (``(path, uri)`` pairs), ``max_workers`` at a time.

    Every source must be a regular file (checked before the first request).
    """
    check_workers(max_workers)
    for path, _uri in uploads:
        if not path.is_file():
            raise XNATValueError(f"cannot upload {path}: it is not a file")
    tried = _Tried()

    def job(index: int) -> Callable[[], None]:
        path, uri = uploads[index]

        def send() -> None:
            tried.pause(index)
            transfer.send_file(
                session, uri, path, overwrite=overwrite, lean_wire=tried.fresh(index)
            )

        return send

    wire = _multiplexed_wire(session, len(uploads), max_workers)
    if wire is not None:
        items = _upload_items(wire, uploads, overwrite)
        tried.take(_multiplex.upload(wire, session.retry_policy, items, max_workers))
    run_all(
        [uri for _path, uri in uploads],
        [job(i) for i in range(len(uploads))],
        max_workers,
        finished={index: None for index in tried.done},
        failed=tried.errors,
    )


def _upload_items(
    wire: FileWire, uploads: Sequence[tuple[Path, str]], overwrite: bool
) -> list[_multiplex.UploadItem]:
    """The uploads the multiplexed pass can send (those on the wire's server), as PUTs with
    the query and headers of ``transfer.send_file``."""
    params, headers, repeatable = transfer.upload_request(None, None, "put", overwrite)
    items: list[_multiplex.UploadItem] = []
    for index, (path, uri) in enumerate(uploads):
        request_target = wire.request_target(uri, params)
        if request_target is not None:
            items.append(
                _multiplex.UploadItem(
                    index, request_target, path, repeatable, "PUT", headers["Content-Type"]
                )
            )
    return items


def upload_tree(
    session: XNATSession,
    resource_uri: str,
    directory: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    max_workers: int = DEFAULT_WORKERS,
) -> None:
    """Upload every file below ``directory`` into the resource at ``resource_uri`` file by file
    (``directory/a/b.txt`` becomes ``a/b.txt``), ``max_workers`` at a time."""
    source = Path(directory)
    if not source.is_dir():
        raise XNATValueError(f"cannot upload {source}: it is not a directory")
    uploads = [(path, f"{resource_uri}/files/{name}") for path, name in transfer.iter_tree(source)]
    upload_files(session, uploads, overwrite=overwrite, max_workers=max_workers)


def _refuse_duplicates(targets: list[Path]) -> None:
    seen: set[Path] = set()
    for target in targets:
        if target in seen:
            raise XNATValueError(f"two of the files would be written to {target}")
        seen.add(target)
