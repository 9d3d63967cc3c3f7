"""SlidingWindowLimiter: never more than N requests per endpoint in any window."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

import pytest

from tiktok_etl.api import ManualClock, SlidingWindowLimiter, UnlimitedLimiter


class RecordingLimiter(SlidingWindowLimiter):
    """Records the monotonic time of every granted acquisition."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.granted: defaultdict[str, list[float]] = defaultdict(list)
        self._record_lock = threading.Lock()

    def acquire(self, endpoint: str) -> None:
        super().acquire(endpoint)
        with self._record_lock:
            self.granted[endpoint].append(self._clock.monotonic())


def max_in_any_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    # the densest half-open window [t, t + window) starts at some granted time t
    return max(bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered))


def test_at_most_limit_acquisitions_in_any_window() -> None:
    clock = ManualClock()
    limiter = RecordingLimiter(default_limit=5, window_seconds=60.0, clock=clock)

    for _ in range(23):
        limiter.acquire("/v2/video/list/")
        clock.advance(1.7)

    times = limiter.granted["/v2/video/list/"]
    assert len(times) == 23
    assert max_in_any_window(times, 60.0) == 5


def test_first_limit_requests_pass_without_waiting() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=3, window_seconds=10.0, clock=clock)

    for _ in range(3):
        limiter.acquire("e")

    assert clock.sleeps == []


def test_request_over_the_limit_waits_until_the_oldest_leaves_the_window() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=2, window_seconds=10.0, clock=clock)
    limiter.acquire("e")
    clock.advance(4.0)
    limiter.acquire("e")

    limiter.acquire("e")

    assert clock.sleeps == [pytest.approx(6.0)]


def test_endpoints_have_independent_budgets() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=2, window_seconds=60.0, clock=clock)

    for endpoint in ("/v2/video/list/", "/v2/user/info/", "business/comment/list/"):
        limiter.acquire(endpoint)
        limiter.acquire(endpoint)

    assert clock.sleeps == []


def test_per_endpoint_limits_override_the_default() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(
        default_limit=600, window_seconds=60.0, limits={"/v2/video/query/": 1}, clock=clock
    )
    limiter.acquire("/v2/video/query/")

    limiter.acquire("/v2/video/query/")

    assert limiter.limit_for("/v2/video/list/") == 600
    assert clock.sleeps == [pytest.approx(60.0)]


def test_penalize_blocks_only_that_endpoint_until_the_deadline() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=100, window_seconds=60.0, clock=clock)

    limiter.penalize("business/video/list/", 7.5)
    limiter.acquire("business/get/")
    assert clock.sleeps == []

    limiter.acquire("business/video/list/")
    assert clock.sleeps == [pytest.approx(7.5)]


def test_a_shorter_penalty_does_not_shorten_a_longer_one() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(clock=clock)

    limiter.penalize("e", 30.0)
    limiter.penalize("e", 5.0)
    limiter.acquire("e")

    assert sum(clock.sleeps) == pytest.approx(30.0)


def test_concurrent_threads_share_one_budget() -> None:
    clock = ManualClock()
    limiter = RecordingLimiter(default_limit=4, window_seconds=60.0, clock=clock)

    def worker() -> None:
        for _ in range(5):
            limiter.acquire("/v2/video/list/")

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    times = limiter.granted["/v2/video/list/"]
    assert len(times) == 30
    assert max_in_any_window(times, 60.0) <= 4


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(default_limit=0)
    with pytest.raises(ValueError):
        SlidingWindowLimiter(limits={"e": 0})


def test_unlimited_limiter_never_waits() -> None:
    limiter = UnlimitedLimiter()

    limiter.penalize("e", 100.0)
    limiter.acquire("e")
