"""Helpers for the client-against-sandbox tests: clocks, transports, the world and faults.

Every test here talks to a `SandboxServer` over real sockets on 127.0.0.1; nothing sleeps
for real. Two clock set-ups are used:

- data tests freeze the sandbox's clock (so metrics in the truth data are the served ones)
  and give the client its own `ManualClock`, so retry backoff costs no time;
- rate and token tests give both sides one `SharedClock`, so the client's limiter, the
  sandbox's enforced window, token expiry on both sides and backoff all read the same time;
- the concurrent rate test uses a `GatedClock`, a `SharedClock` that stands still while any
  request is in flight (zero network latency for many threads).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tiktok_etl.api import ManualClock, RateLimiter, RetryPolicy, Transport, UnlimitedLimiter
from tiktok_etl.sandbox import FaultConfig, SandboxApp, SandboxServer

START = datetime(2026, 11, 5, 12, 0, 0, tzinfo=UTC)

# small enough to read completely in well under a second, big enough for many pages
SMALL_WORLD: dict[str, Any] = {
    "history_days": 30,
    "videos_per_day": (0, 4),
    "comments_per_video": (0, 10),
    "heavy_video_ratio": 0.0,
    "reply_ratio": 0.3,
    "comment_max_age_days": 10,
}

# every kind of failure the acceptance criterion names, plus the Business 200-with-error ones
FAULT_MIX = FaultConfig(
    rate_429=0.1,
    rate_5xx=0.1,
    rate_html_504=0.05,
    rate_drop=0.05,
    rate_40100=0.05,
    rate_50000=0.05,
    seed=11,
)


class SharedClock:
    """One time source for the client (`tiktok_etl.api.Clock`) and the sandbox (a callable).

    Time is an integer number of microseconds, and wall and monotonic time are the same
    number, so an interval the client's limiter measures is exactly the interval the
    sandbox's window sees (sleeps round *up* to the next microsecond: never early).
    """

    def __init__(self, start: datetime = START) -> None:
        self._start = start
        self._micros = 0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return 1_000.0 + self._micros / 1_000_000

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(microseconds=self._micros)

    def __call__(self) -> datetime:
        return self.now()

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._micros += math.ceil(seconds * 1_000_000)

    @property
    def elapsed(self) -> float:
        with self._lock:
            return self._micros / 1_000_000


class InFlightGate:
    """Zero network latency for many threads on one `SharedClock`.

    A sleeping thread would otherwise move the shared clock while another thread's request
    is between its rate-limit slot and the server, as if that request had taken seconds to
    arrive. Here time moves only when every thread holding a slot is itself asleep, so the
    sandbox sees each request at the moment the client's limiter admitted it.
    """

    def __init__(self, clock: SharedClock) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._holding: set[int] = set()  # threads between limiter.acquire and the answer
        self._asleep: set[int] = set()

    def enter(self) -> None:
        with self._cond:
            self._holding.add(threading.get_ident())

    def leave(self) -> None:
        with self._cond:
            self._holding.discard(threading.get_ident())
            self._cond.notify_all()

    def sleep(self, seconds: float) -> None:
        me = threading.get_ident()
        with self._cond:
            self._asleep.add(me)
            self._cond.notify_all()
            settled = self._cond.wait_for(lambda: self._holding <= self._asleep, timeout=10)
            self._asleep.discard(me)
            if not settled:  # fail the test rather than hang it
                raise AssertionError("a request held its rate-limit slot for 10 real seconds")
            self.clock.advance(seconds)


class GatedClock(SharedClock):
    """A `SharedClock` whose `sleep` goes through an `InFlightGate`."""

    def __init__(self, start: datetime = START) -> None:
        super().__init__(start)
        self.gate = InFlightGate(self)

    def sleep(self, seconds: float) -> None:
        self.gate.sleep(seconds)


class GatedLimiter:
    """Marks the thread as holding a slot from the moment it asks the limiter for one."""

    def __init__(self, inner: RateLimiter, gate: InFlightGate) -> None:
        self.inner = inner
        self.gate = gate

    def acquire(self, endpoint: str) -> None:
        self.gate.enter()
        self.inner.acquire(endpoint)

    def penalize(self, endpoint: str, seconds: float) -> None:
        self.inner.penalize(endpoint, seconds)


class GatedHTTPTransport(httpx.HTTPTransport):
    """Releases the thread's slot once the answer (or the dropped connection) is back."""

    def __init__(self, gate: InFlightGate) -> None:
        super().__init__()
        self.gate = gate

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = super().handle_request(request)
            response.read()
            return response
        finally:
            self.gate.leave()


def retry_policy(seed: int = 5) -> RetryPolicy:
    """Patient enough that a seeded fault mix never exhausts it; waits cost no real time."""
    return RetryPolicy(
        max_attempts=25,
        base_delay=0.5,
        max_delay=30.0,
        max_total_wait=3_600,
        rng=random.Random(seed),
    )


def make_transport(
    clock: ManualClock | SharedClock, limiter: RateLimiter | None = None
) -> Transport:
    if isinstance(clock, GatedClock):
        limiter = GatedLimiter(limiter or UnlimitedLimiter(), clock.gate)
        http_transport: httpx.BaseTransport | None = GatedHTTPTransport(clock.gate)
    else:
        http_transport = None
    return Transport(
        clock=clock,
        limiter=limiter or UnlimitedLimiter(),
        retry=retry_policy(),
        timeout=10.0,
        http_transport=http_transport,
    )


@contextmanager
def served(app: SandboxApp) -> Iterator[SandboxServer]:
    with SandboxServer(app) as server:
        yield server
