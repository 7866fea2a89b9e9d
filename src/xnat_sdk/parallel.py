"""Many files at once: a pool of threads sharing the session's one httpx client.

Small files are dominated by round trips, not bandwidth, so running several requests at once is
what makes 2,000 of them fast. Each file is still moved exactly as a single transfer is
(``transfer.atomic_file`` + ``transfer.download_stream``: written beside its target, verified by
length and md5, renamed only when complete; ``transfer.upload`` for uploads); this module only
decides how many run at once, sums their progress and reports failures by file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from xnat_sdk import transfer
from xnat_sdk.errors import XNATError, XNATValueError

if TYPE_CHECKING:
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


def run_all(names: Sequence[str], jobs: Sequence[Callable[[], T]], max_workers: int) -> list[T]:
    """Run ``jobs`` on ``max_workers`` threads and return their results in order.

    At the first failure no further job starts; those running are let finish (each one's
    target is complete or absent), then ``XNATTransferError`` names every failed job. The
    threads take the next job from a shared counter: no future or queue item per job, whose
    cost (about 0.2 ms of CPU each) showed in transfers of many small files.
    """
    check_workers(max_workers)
    results: dict[int, T] = {}
    errors: dict[int, BaseException] = {}
    following = iter(range(len(jobs)))
    lock = threading.Lock()
    stop = threading.Event()

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
        for number in range(min(max_workers, len(jobs)))
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

    def job(index: int) -> Callable[[], Path]:
        file, target = chosen[index], targets[index]

        def download() -> Path:
            with transfer.atomic_file(target) as handle:
                transfer.download_stream(
                    session,
                    file.uri,
                    handle,
                    expected_md5=file.digest,
                    verify=verify,
                    update_func=progress.for_item(index),
                )
            return target

        return download

    try:
        return run_all([str(t) for t in targets], [job(i) for i in range(len(chosen))], max_workers)
    finally:
        progress.finish()


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

    def job(path: Path, uri: str) -> Callable[[], None]:
        def send() -> None:
            transfer.send_file(session, uri, path, overwrite=overwrite)

        return send

    run_all([uri for _path, uri in uploads], [job(p, u) for p, u in uploads], max_workers)


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
