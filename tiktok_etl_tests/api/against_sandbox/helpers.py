"""Helpers for the client-against-sandbox tests: clocks, transports, the world and faults.

Every test here talks to a `SandboxServer` over real sockets on 127.0.0.1; nothing sleeps
for real. Two clock set-ups are used:

- data tests freeze the sandbox's clock (so metrics in the truth data are the served ones)
  and give the client its own `ManualClock`, so retry backoff costs no time;
- rate and token tests give both sides one `SharedClock`, so the client's limiter, the
  sandbox's enforced window, token expiry on both sides and backoff all read the same time;
  the rate tests add simulated network latency on it (`Latency`, `LatentHTTPTransport`), so
  the sandbox counts each request when it arrives, well after the client's limiter let it go.
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


class Latency:
    """Seeded one-way network delays: `uniform(0, typical)`, but 1 in `slow_every` is
    `uniform(0, slow)`, up to more than a minute (a request overtaken by a whole window).

    Short on the whole, so the budget, not the network, sets the pace; yet with these delays
    a limiter that stamps requests when it admits them (not when they complete) lets the
    sandbox count 31 or more in a minute against a limit of 30.
    """

    def __init__(
        self, typical: float = 0.05, slow: float = 75.0, slow_every: int = 100, seed: int = 0
    ) -> None:
        self.typical, self.slow, self.slow_every = typical, slow, slow_every
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> float:
        with self._lock:
            if self._rng.randrange(self.slow_every) == 0:
                return self._rng.uniform(0.0, self.slow)
            return self._rng.uniform(0.0, self.typical)


class LatentHTTPTransport(httpx.HTTPTransport):
    """Requests take time on the shared clock, as they would on a real network.

    Each request spends a random while reaching the server (which stamps it on arrival) and
    another coming back, drawn from `latency` (seconds, mostly short, sometimes more than a
    whole rate-limit window). Nothing sleeps for real: the clock is advanced. With many
    threads, other threads' waits move the clock too while a request is in flight, so a
    request can land much later than its rate-limit slot was taken.
    """

    def __init__(self, clock: SharedClock, latency: Latency) -> None:
        super().__init__()
        self.clock = clock
        self.latency = latency

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.clock.advance(self.latency.draw())  # on the way to the server
        try:
            response = super().handle_request(request)
            response.read()
            return response
        finally:
            self.clock.advance(self.latency.draw())  # the answer (or the hang-up) coming back


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
    clock: ManualClock | SharedClock,
    limiter: RateLimiter | None = None,
    latency: Latency | None = None,
) -> Transport:
    """A patient transport on `clock`; with `latency` (a `SharedClock` only), requests take
    simulated time in flight."""
    http_transport: httpx.BaseTransport | None = None
    if latency is not None:
        assert isinstance(clock, SharedClock), "simulated latency needs the shared clock"
        http_transport = LatentHTTPTransport(clock, latency)
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
