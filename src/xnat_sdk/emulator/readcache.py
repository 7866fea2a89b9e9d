"""Answers of small database reads, remembered until a write changes what they read.

Serving one file walks project -> subject -> session -> resource -> file: half a dozen small
queries per request that return the same rows until something changes, and they cost more than
the rest of the request. A ``ReadCache`` remembers those answers per ``CacheSlot`` (one kind of
answer, reading some tables); ``Database`` drops the slots that read the tables a write
transaction touched when it ends, and every slot when it notices a commit by another
connection, so a cached answer is never older than the last write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Hashable
from typing import Generic, TypeVar, cast

V = TypeVar("V")

DEFAULT_LIMIT = 50_000  # entries kept per slot before it starts over (memory bound)


class CacheSlot(Generic[V]):
    """One kind of cached answer (``Node | None`` for object lookups, ...): the type of the
    values it holds and the tables its answers are read from. Make one per kind, at module
    level. ``limit``: how many answers it keeps before it starts over (the cache's own limit
    when ``None``; a few for big answers such as whole listings)."""

    def __init__(self, name: str, tables: Collection[str], limit: int | None = None) -> None:
        self.name = name
        self.tables = frozenset(tables)
        self.limit = limit

    def __repr__(self) -> str:
        return f"CacheSlot({self.name!r}, {sorted(self.tables)})"


_MISSING = object()


class ReadCache:
    """Cached answers by slot and key, dropped by ``invalidate`` for the tables written.

    Thread-safe: an answer loaded while an invalidation of its slot happened is returned but
    not kept, so a read that raced with a write can never be served later.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit
        # slot -> its answers; invalidating replaces the dict, which is how a load that raced
        # with an invalidation can tell (it holds the old one)
        self._slots: dict[CacheSlot[object], dict[Hashable, object]] = {}
        self._lock = threading.Lock()

    def get(self, slot: CacheSlot[V], key: Hashable, load: Callable[[], V]) -> V:
        """The remembered answer for ``key``, else ``load()`` (remembered for next time)."""
        held = cast("CacheSlot[object]", slot)
        entries = self._slots.get(held)
        if entries is None:
            with self._lock:
                entries = self._slots.setdefault(held, {})
        found = entries.get(key, _MISSING)
        if found is not _MISSING:
            return cast("V", found)  # only load()'s results for this slot are stored in it
        value = load()
        with self._lock:
            if self._slots.get(held) is entries:  # not invalidated meanwhile
                if len(entries) >= (slot.limit or self._limit):
                    entries.clear()
                entries[key] = value
        return value

    def invalidate(self, tables: Collection[str] | None = None) -> None:
        """Forget the answers read from ``tables`` (``None``: every answer)."""
        with self._lock:
            for slot in list(self._slots):
                if tables is None or not slot.tables.isdisjoint(tables):
                    self._slots[slot] = {}
