"""Clocks for the sandbox: the wall clock by default, a manual one for tests and benchmarks.

Everything time-dependent in the sandbox (which records are visible, metric growth, token
expiry, the rate-limit window) reads one injectable clock, so tests move time instead of
sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

NowSource = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (naive values are taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def as_utc_datetime(value: date | datetime) -> datetime:
    """A date becomes its UTC midnight; a datetime is normalized to UTC."""
    if isinstance(value, datetime):
        return as_utc(value)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


class SandboxClock:
    """A clock that only moves when told to: `clock()` reads it, `advance()` moves it.

    Example::

        clock = SandboxClock(datetime(2026, 11, 5, 12, tzinfo=UTC))
        world = SandboxWorld(clock=clock)
        clock.advance(3600)  # an hour later, metrics have grown
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = as_utc(start) if start is not None else utc_now()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = as_utc(moment)
