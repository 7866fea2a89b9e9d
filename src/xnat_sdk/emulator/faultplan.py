"""Queued faults to inject into responses (see ``faults`` for how they are applied)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

KINDS = ("fail", "drop", "delay")


@dataclass
class Fault:
    """One queued fault: ``kind`` applies to the next ``remaining`` requests under ``path``."""

    kind: str
    remaining: int
    path: str = ""
    status: int = 503
    seconds: float = 0.0


class FaultPlan:
    """The queued faults of one emulator (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def fail(self, count: int = 1, *, status: int = 503, path: str = "") -> None:
        """Answer the next ``count`` requests under ``path`` with ``status`` (no body work)."""
        self.add(Fault("fail", count, path, status=status))

    def drop(self, count: int = 1, *, path: str = "") -> None:
        """Cut the connection of the next ``count`` requests after the response headers."""
        self.add(Fault("drop", count, path))

    def delay(self, seconds: float, count: int = 1, *, path: str = "") -> None:
        """Hold the next ``count`` requests for ``seconds`` before serving them normally."""
        self.add(Fault("delay", count, path, seconds=seconds))

    def add(self, fault: Fault) -> None:
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}: one of {', '.join(KINDS)}")
        if fault.remaining < 1:
            raise ValueError(f"a fault needs a count of at least 1, not {fault.remaining}")
        if fault.kind == "fail" and not 400 <= fault.status <= 599:
            raise ValueError(f"a failure status must be 4xx or 5xx, not {fault.status}")
        if fault.seconds < 0:
            raise ValueError(f"a delay cannot be negative ({fault.seconds})")
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str) -> Fault | None:
        """Consume and return the first queued fault that applies to ``path``."""
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None
