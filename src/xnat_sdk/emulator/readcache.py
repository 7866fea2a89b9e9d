"""Answers of small database reads, remembered until anything is written.

Serving one file walks project -> subject -> session -> resource -> file: half a dozen small
queries per request that return the same rows until something changes, and they cost more than
the rest of the request. A ``ReadCache`` remembers those answers for one *generation* of the
database; ``Database`` starts a new generation after every write transaction and whenever it
notices a commit by another connection, so a cached answer is never older than the last write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar, cast

V = TypeVar("V")

DEFAULT_LIMIT = 100_000  # entries kept before the cache starts over (memory bound)


class CacheSlot(Generic[V]):
    """One kind of cached answer (``Node | None`` for object lookups, ...): the type of the
    values it holds, and a name for debugging. Make one per kind, at module level."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"CacheSlot({self.name!r})"


_MISSING = object()


class ReadCache:
    """Cached answers keyed by (slot, key), all dropped at once by ``invalidate``.

    Thread-safe: an answer loaded while an invalidation happened is returned but not kept,
    so a read that raced with a write can never be served later.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit
        self._generation = 0
        self._entries: dict[tuple[CacheSlot[object], Hashable], object] = {}
        self._lock = threading.Lock()

    def get(self, slot: CacheSlot[V], key: Hashable, load: Callable[[], V]) -> V:
        """The remembered answer for ``key``, else ``load()`` (remembered for next time)."""
        generation = self._generation
        entry = (cast("CacheSlot[object]", slot), key)
        found = self._entries.get(entry, _MISSING)
        if found is not _MISSING:
            return cast("V", found)  # only load()'s results for this slot are stored under it
        value = load()
        with self._lock:
            if self._generation == generation:
                if len(self._entries) >= self._limit:
                    self._entries = {}
                self._entries[entry] = value
        return value

    def invalidate(self) -> None:
        """Forget every answer (call after the database changed)."""
        with self._lock:
            self._generation += 1
            self._entries = {}
