"""Durable storage for the emulator: one SQLite database (WAL) plus a directory of file blobs.

Everything the server acknowledges must survive a SIGKILL, so the database runs in WAL mode with
``synchronous=FULL`` and file blobs are written to a temporary file, fsynced and renamed into
place before the row that points at them is committed. A blob without a row (a crash between
rename and commit) is invisible and harmless; a row without a complete blob cannot happen.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Generator, Hashable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar, cast

from xnat_sdk.emulator.readcache import CacheSlot, ReadCache

V = TypeVar("V")
R = TypeVar("R")

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS users (
    login TEXT PRIMARY KEY,
    password TEXT NOT NULL,
    firstname TEXT NOT NULL DEFAULT '',
    lastname TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    is_admin INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,
    user_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    alias TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    login TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent_pk INTEGER REFERENCES nodes(pk) ON DELETE CASCADE,
    project TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    xsi_type TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '{}',
    insert_date TEXT NOT NULL,
    insert_user TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS nodes_kind_id ON nodes(kind, id);
CREATE INDEX IF NOT EXISTS nodes_parent ON nodes(parent_pk, kind);
CREATE INDEX IF NOT EXISTS nodes_project_label ON nodes(project, kind, label);
CREATE TABLE IF NOT EXISTS shares (
    node_pk INTEGER NOT NULL REFERENCES nodes(pk) ON DELETE CASCADE,
    project TEXT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (node_pk, project)
);
CREATE INDEX IF NOT EXISTS shares_project_label ON shares(project, label);
CREATE TABLE IF NOT EXISTS project_access (
    project TEXT PRIMARY KEY,
    accessibility TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS project_users (
    project TEXT NOT NULL,
    login TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (project, login)
);
CREATE TABLE IF NOT EXISTS files (
    resource_pk INTEGER NOT NULL REFERENCES nodes(pk) ON DELETE CASCADE,
    path TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    md5 TEXT NOT NULL,
    format TEXT NOT NULL DEFAULT '',
    content TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (resource_pk, path)
);
"""

CHUNK_SIZE = 1024 * 1024
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
# File systems stamp modification times from a clock that ticks every few milliseconds.
MTIME_COARSENESS_NS = 50_000_000


class Database:
    """SQLite access: one reading connection per thread, one writing connection shared by all
    threads (one write transaction at a time), and a cache of small reads (``cached``) that
    every write, here or by another process, invalidates.

    All writes go through the one writing connection so that its ``PRAGMA data_version``
    moves only when *another* process commits: that is how outside changes are noticed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._opened: list[sqlite3.Connection] = []
        self._reads = ReadCache()
        self._writer: sqlite3.Connection | None = None
        self._touched: set[str] | None = None  # tables of the write transaction under way
        self._wal_path = f"{os.fspath(path)}-wal"
        self._wal_seen: tuple[int, int, int] | None = None
        self._wal_settled = False
        self._outside_version: object = None
        self._group_lock = threading.Lock()
        self._waiting: list[_GroupedWrite[object]] = []  # for the next group commit
        self._leader_busy = False
        with self._write_lock:
            self._writing_connection().executescript(SCHEMA_SQL)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        with self._write_lock:
            self._opened.append(conn)
        return conn

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _writing_connection(self) -> sqlite3.Connection:
        if self._writer is None:
            self._writer = self._open()
        return self._writer

    def _in_write(self) -> bool:
        return bool(getattr(self._local, "writing", False))

    def read(self) -> sqlite3.Connection:
        """A connection for queries: this thread's own, or inside a write transaction the
        transaction's (so that it sees what the transaction wrote)."""
        if self._in_write():
            return self._writing_connection()
        return self._connection()

    @contextmanager
    def write(self, tables: Collection[str] | None = None) -> Generator[sqlite3.Connection]:
        """A write transaction: committed (durably) on success, rolled back on any error.

        ``tables`` names every table the caller writes, so that only cached answers read from
        them are dropped at the end (``None``, the default: any table, drop everything). A
        nested use joins the outer transaction and adds its tables to it.
        """
        with self._write_lock:
            conn = self._writing_connection()
            if self._in_write():
                if self._touched is not None:
                    if tables is None:
                        self._touched = None
                    else:
                        self._touched.update(tables)
                yield conn
                return
            self._touched = None if tables is None else set(tables)
            self._local.writing = True
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # the shared connection must not stay in one
                        conn.execute("ROLLBACK")
                    raise
            finally:
                self._local.writing = False
                self._reads.invalidate(self._touched)

    def write_in_group(self, tables: Collection[str], work: Callable[[sqlite3.Connection], R]) -> R:
        """``work(conn)`` in a write transaction shared with the writes other threads are
        waiting to make: one commit, so one sync of the log, for all of them (group commit).

        With eight uploads at once, each committing alone waited its turn for a sync of its
        own: a tenth of the wall time of 2,000 small uploads. Each ``work`` runs in its own
        savepoint, so its error rolls back that work only and is raised to its caller only;
        no caller returns before the commit that makes its work durable. The first caller
        to find no group under way leads: it commits the writes waiting at that moment, then
        hands the lead to the first that arrived meanwhile.
        """
        if self._in_write():  # inside this thread's transaction already: join it
            with self.write(tables) as conn:
                return work(conn)
        mine = _GroupedWrite(work, tables)
        with self._group_lock:
            self._waiting.append(cast("_GroupedWrite[object]", mine))
            leads = not self._leader_busy
            self._leader_busy = True
        if not leads:
            mine.finished.wait()
        if mine.leads:
            self._commit_waiting()
        return mine.outcome()

    def _commit_waiting(self) -> None:
        """Commit the writes waiting now, then pass the lead on (or give it up)."""
        with self._group_lock:
            group, self._waiting = self._waiting, []
        try:
            with self.write({table for grouped in group for table in grouped.tables}) as conn:
                for grouped in group:
                    conn.execute("SAVEPOINT grouped_write")
                    grouped.run(conn)
                    if grouped.error is not None:
                        conn.execute("ROLLBACK TO grouped_write")
                    conn.execute("RELEASE grouped_write")
        except BaseException as error:  # the commit failed: none of the group is durable
            for grouped in group:
                grouped.fail(error)
        finally:
            with self._group_lock:
                following = self._waiting[0] if self._waiting else None
                self._leader_busy = following is not None
            if following is not None:
                following.leads = True
                following.finished.set()
            for grouped in group:
                grouped.leads = False
                grouped.finished.set()

    def cached(self, slot: CacheSlot[V], key: Hashable, load: Callable[[], V]) -> V:
        """``load()``'s answer, remembered until a write changes its tables. Inside a write
        transaction the answer may not be committed yet: it is loaded afresh, not remembered."""
        if self._in_write():
            return load()
        return self._reads.get(slot, key, load)

    def notice_outside_writes(self) -> None:
        """Invalidate the cache if another process (a test editing the file) committed since
        the last look; called once per request.

        The writing connection's ``PRAGMA data_version`` says so exactly (SQLite connections
        are serialized, so any thread may ask, even during a transaction: none from outside
        can commit then), but it costs ~30 us in a request. Every commit writes the
        write-ahead log, which moves its modification time: when the log is unchanged since
        the last exact look and was already older than the clock's coarseness then, nothing
        can have been committed since.
        """
        started = time.time_ns()
        try:
            wal = os.stat(self._wal_path)
            seen: tuple[int, int, int] | None = (wal.st_ino, wal.st_size, wal.st_mtime_ns)
        except FileNotFoundError:
            seen = None
        if seen is not None and seen == self._wal_seen and self._wal_settled:
            return
        version = self._writing_connection().execute("PRAGMA data_version").fetchone()[0]
        if version != self._outside_version:
            self._outside_version = version
            self._reads.invalidate()
        self._wal_seen = seen
        self._wal_settled = seen is not None and seen[2] < started - MTIME_COARSENESS_NS

    def next_counter(self, conn: sqlite3.Connection, name: str, count: int = 1) -> int:
        """The next value of a named sequence (accession numbers), inside the caller's write;
        ``count`` reserves that many consecutive values and returns the first."""
        row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = 1 if row is None else int(row["value"]) + 1
        conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value + count - 1),
        )
        return value

    def close(self) -> None:
        """Close every thread's connection (call once no request is running)."""
        with self._write_lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
            self._writer = None
        self._local = threading.local()
        self._reads.invalidate()


class _GroupedWrite(Generic[R]):
    """One caller's work in a group commit, with what came of it."""

    def __init__(self, work: Callable[[sqlite3.Connection], R], tables: Collection[str]) -> None:
        self.work = work
        self.tables = tables
        self.finished = threading.Event()
        self.leads = True  # until another caller leads; set again when the lead is handed on
        self.value: R | None = None
        self.error: BaseException | None = None

    def run(self, conn: sqlite3.Connection) -> None:
        try:
            self.value = self.work(conn)
        except Exception as error:  # this work's own failure: raised to its caller alone
            self.error = error

    def fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error, self.value = error, None

    def outcome(self) -> R:
        if self.error is not None:
            raise self.error
        return cast("R", self.value)


class StagedBlob:
    """A file written completely to disk (fsynced) but not yet referenced by the database."""

    def __init__(self, blob: str, size: int, md5: str) -> None:
        self.blob = blob
        self.size = size
        self.md5 = md5


class BlobWriter:
    """Streams bytes into a temporary file, hashing as it goes; ``finish`` makes it durable.

    Plain file descriptors and path strings: an upload of a small file is dominated by the
    file system's own work, not by file objects and ``Path`` arithmetic around it.
    """

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        while True:
            self._name = f"upload-{secrets.token_hex(8)}"
            self._temp_path = f"{store.tmp_text}/{self._name}"
            try:
                self._fd = os.open(self._temp_path, _NEW_FILE, 0o600)
                break
            except FileExistsError:  # a 64-bit random name came up twice: draw another
                continue
        self._digest = hashlib.md5()
        self._size = 0

    def write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view) :]
        self._digest.update(chunk)
        self._size += len(chunk)

    def finish(self) -> StagedBlob:
        """fsync the data, then rename it to its final name (fsyncing the directory too)."""
        try:
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
        folder = self._store.folder(self._name[-2:])
        os.replace(self._temp_path, f"{folder}/{self._name}")
        _fsync_dir(folder)
        return StagedBlob(f"{self._name[-2:]}/{self._name}", self._size, self._digest.hexdigest())

    def abort(self) -> None:
        os.close(self._fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._temp_path)


class BlobStore:
    """Content files under ``<data_dir>/blobs``, each written atomically under a fresh name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_text = os.fspath(root)
        self.tmp = root / ".tmp"
        self.tmp_text = os.fspath(self.tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp.iterdir():  # leftovers of writes interrupted by a crash
            stale.unlink(missing_ok=True)
        self._folders: set[str] = set()

    def folder(self, name: str) -> str:
        """The path of the blob folder ``name`` (two characters), created when missing."""
        path = f"{self._root_text}/{name}"
        if name not in self._folders:
            os.makedirs(path, exist_ok=True)
            self._folders.add(name)
        return path

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def write_chunks(self, chunks: Iterator[bytes]) -> StagedBlob:
        """Write an iterator of byte chunks as a new blob."""
        writer = self.writer()
        try:
            for chunk in chunks:
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.finish()

    def write_many(self, contents: Iterable[bytes]) -> list[StagedBlob]:
        """Write many small blobs with one file-system sync for all of them, instead of a
        temporary file and two fsyncs each (seeding 60,000 files: seconds, not minutes).

        Each is written straight under its final, fresh name: until a row points at it a blob
        is invisible, and it is durable (synced) before this returns.
        """
        staged: list[StagedBlob] = []
        made: set[str] = set()
        try:
            for content in contents:
                name = f"bulk-{secrets.token_hex(8)}"
                folder = name[-2:]
                if folder not in made:
                    (self.root / folder).mkdir(exist_ok=True)
                    made.add(folder)
                blob = f"{folder}/{name}"
                with open(self.root / blob, "xb") as handle:
                    handle.write(content)
                staged.append(StagedBlob(blob, len(content), hashlib.md5(content).hexdigest()))
        except BaseException:
            for written in staged:
                self.discard(written.blob)
            raise
        os.sync()
        return staged

    def absolute(self, blob: str) -> Path:
        return self.root / blob

    def location(self, blob: str) -> str:
        """``absolute`` as a plain string, for the per-request path (no ``Path`` objects)."""
        return f"{self._root_text}/{blob}"

    def discard(self, blob: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{self._root_text}/{blob}")


def _fsync_dir(directory: str | Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
