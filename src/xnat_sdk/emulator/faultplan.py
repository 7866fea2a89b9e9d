"""Which faults to inject, and what the emulator saw (see ``faults`` for how they are applied).

Two sources of faults: a queue (``fail``/``drop``/``delay`` the next N requests under a path,
for tests that need one precise failure) and ``FaultSettings`` (a fraction of all requests,
drawn from a generator seeded with ``seed``, so a run is reproducible). Queued faults win. The
plan also counts every request by method and path and the response body bytes it sent, so a test
can assert that a POST reached the server once or that a download was not sent twice.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass

KINDS = ("fail", "drop", "delay")


@dataclass
class Fault:
    """One fault for the next ``remaining`` requests under ``path``.

    ``fail`` answers ``status`` without running the request (with ``Retry-After: retry_after``
    when given); ``drop`` runs the request and cuts the connection after ``after_bytes`` bytes
    of the response body (0: the answer is lost); ``delay`` holds the request ``seconds``.
    """

    kind: str
    remaining: int
    path: str = ""
    status: int = 503
    seconds: float = 0.0
    after_bytes: int = 0
    retry_after: str | None = None


@dataclass(frozen=True)
class FaultSettings:
    """Faults for a fraction of the requests under ``path``, reproducible under ``seed``.

    Each request draws one number: below ``fail_rate`` it is answered ``fail_status``, in the
    next ``drop_rate`` its connection is cut after ``drop_after`` body bytes, in the next
    ``delay_rate`` it is held ``delay`` seconds. ``session_lifetime`` (seconds) ends every login
    session that long after it was opened, however busy it is.
    """

    seed: int = 0
    fail_rate: float = 0.0
    fail_status: int = 503
    drop_rate: float = 0.0
    drop_after: int = 0
    delay_rate: float = 0.0
    delay: float = 0.0
    session_lifetime: float | None = None
    path: str = ""

    def __post_init__(self) -> None:
        rates = {"fail_rate": self.fail_rate, "drop_rate": self.drop_rate}
        rates["delay_rate"] = self.delay_rate
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        if sum(rates.values()) > 1.0:
            raise ValueError("fail_rate + drop_rate + delay_rate must not exceed 1")
        _check_status(self.fail_status)
        if self.drop_after < 0 or self.delay < 0:
            raise ValueError("drop_after and delay cannot be negative")
        if self.session_lifetime is not None and self.session_lifetime <= 0:
            raise ValueError(f"session_lifetime must be positive, not {self.session_lifetime}")


def _check_status(status: int) -> None:
    if not 400 <= status <= 599:
        raise ValueError(f"a failure status must be 4xx or 5xx, not {status}")


class FaultPlan:
    """The faults and request counts of one emulator (thread-safe)."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._settings = settings or FaultSettings()
        self._random = random.Random(self._settings.seed)
        self._requests: Counter[tuple[str, str]] = Counter()
        self._injected: Counter[str] = Counter()
        self._body_bytes: Counter[str] = Counter()

    # -- configuration ----------------------------------------------------------------------
    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def configure(self, settings: FaultSettings | None) -> None:
        """Replace the random faults (``None``: none) and restart their generator at its seed."""
        with self._lock:
            self._settings = settings or FaultSettings()
            self._random = random.Random(self._settings.seed)

    def fail(
        self, count: int = 1, *, status: int = 503, path: str = "", retry_after: str | None = None
    ) -> None:
        """Answer the next ``count`` requests under ``path`` with ``status`` (no body work)."""
        self.add(Fault("fail", count, path, status=status, retry_after=retry_after))

    def drop(self, count: int = 1, *, path: str = "", after_bytes: int = 0) -> None:
        """Serve the next ``count`` requests under ``path`` but cut each connection after
        ``after_bytes`` bytes of the response body (0: the request is applied, its answer lost)."""
        self.add(Fault("drop", count, path, after_bytes=after_bytes))

    def delay(self, seconds: float, count: int = 1, *, path: str = "") -> None:
        """Hold the next ``count`` requests for ``seconds`` before serving them normally."""
        self.add(Fault("delay", count, path, seconds=seconds))

    def add(self, fault: Fault) -> None:
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}: one of {', '.join(KINDS)}")
        if fault.remaining < 1:
            raise ValueError(f"a fault needs a count of at least 1, not {fault.remaining}")
        if fault.kind == "fail":
            _check_status(fault.status)
        if fault.seconds < 0 or fault.after_bytes < 0:
            raise ValueError("a delay or a byte count cannot be negative")
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Drop queued and random faults (the request counts stay)."""
        with self._lock:
            self._faults.clear()
            self._settings = FaultSettings()

    # -- applying ---------------------------------------------------------------------------
    def take(self, method: str, path: str) -> Fault | None:
        """Count the request, then consume and return the fault that applies to it, if any."""
        with self._lock:
            self._requests[(method, path)] += 1
            fault = self._queued(path) or self._drawn(path)
            if fault is not None:
                self._injected[fault.kind] += 1
            return fault

    def _queued(self, path: str) -> Fault | None:
        for fault in self._faults:
            if path.startswith(fault.path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _drawn(self, path: str) -> Fault | None:
        settings = self._settings
        if not path.startswith(settings.path):
            return None
        if settings.fail_rate == settings.drop_rate == settings.delay_rate == 0.0:
            return None
        draw = self._random.random()
        if draw < settings.fail_rate:
            return Fault("fail", 1, status=settings.fail_status)
        draw -= settings.fail_rate
        if draw < settings.drop_rate:
            return Fault("drop", 1, after_bytes=settings.drop_after)
        draw -= settings.drop_rate
        if draw < settings.delay_rate:
            return Fault("delay", 1, seconds=settings.delay)
        return None

    def count_body(self, path: str, size: int) -> None:
        """Record ``size`` response body bytes sent for ``path``."""
        with self._lock:
            self._body_bytes[path] += size

    # -- what happened ----------------------------------------------------------------------
    def seen(self, method: str, path: str) -> int:
        """How many ``method`` requests for exactly ``path`` arrived (as the client sent it)."""
        with self._lock:
            return self._requests[(method.upper(), path)]

    def requests(self) -> int:
        """How many requests arrived in all (every method and path)."""
        with self._lock:
            return sum(self._requests.values())

    def body_bytes(self, path: str) -> int:
        """Response body bytes sent for exactly ``path`` (cut responses count what was sent)."""
        with self._lock:
            return self._body_bytes[path]

    def injected(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        with self._lock:
            return dict(self._injected)

    def stats(self) -> dict[str, object]:
        """Everything above as JSON-ready data (what ``GET /xapi/emulator/faults`` answers)."""
        with self._lock:
            return {
                "injected": dict(self._injected),
                "requests": {f"{m} {p}": n for (m, p), n in sorted(self._requests.items())},
                "body_bytes": dict(sorted(self._body_bytes.items())),
                "queued": len(self._faults),
            }
