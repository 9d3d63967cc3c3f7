"""Time as a dependency: the real clock, and a manual one that never sleeps.

Everything in `tiktok_etl.api` that waits (rate limits, retry backoff, token
expiry) asks a `Clock`, so tests, the sandbox and benchmarks can run hours of
simulated waiting in microseconds with `ManualClock`.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Monotonic time for intervals, wall time for expiries, and a way to wait."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to; `sleep` advances it instead of waiting.

    Thread-safe. Every sleep is recorded in `sleeps` so callers can assert on
    the waits a component asked for. Time moves in whole microseconds (a sleep
    rounds up to the next one), the same for wall and monotonic time, so the two
    never drift apart however many fractional sleeps add up.
    """

    def __init__(self, start: datetime | None = None, monotonic_start: float = 1_000.0) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._lock = threading.Lock()
        self._start = start.astimezone(UTC)
        self._monotonic_start = monotonic_start
        # elapsed time in whole microseconds, so wall and monotonic time never drift apart
        self._micros = 0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic_start + self._micros / 1_000_000

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(microseconds=self._micros)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._advance_locked(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._advance_locked(seconds)

    def _advance_locked(self, seconds: float) -> None:
        if seconds > 0:
            # round up to the next microsecond (never wake early), ignoring float noise
            # below a nanosecond so that 1.1 s is 1_100_000 us, not 1_100_001
            self._micros += max(1, math.ceil(round(seconds * 1_000_000, 3)))
