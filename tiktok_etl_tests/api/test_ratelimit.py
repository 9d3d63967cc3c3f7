"""SlidingWindowLimiter: never more than N requests per endpoint in any window, as the server
counts them (on arrival), whatever the latency; slots count from acquisition to completion.

Time is a `ManualClock`: nothing here sleeps for real. The property tests simulate a server
that stamps each request when it arrives, after a random time in flight, and check its
sliding windows; `AdmissionTimeLimiter` (the old design, stamping a request when admitted)
shows that the same simulations catch the flaw.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tiktok_etl.api import ManualClock, RateLimiter, SlidingWindowLimiter, UnlimitedLimiter
from tiktok_etl.api.ratelimit import Slot

MICROS = 1_000_000


def max_in_any_window(times: list[float] | list[int], window: float) -> int:
    """The most times in any half-open `[t, t + window)`: what a sliding-window server sees."""
    ordered = sorted(times)
    if not ordered:
        return 0
    # the densest window starts at one of the times
    return max(bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered))


def micros(clock: ManualClock) -> int:
    return round((clock.monotonic() - 1_000.0) * MICROS)


class AdmissionTimeLimiter:
    """The flawed design, for contrast: a request is counted when admitted, not completed."""

    def __init__(self, limit: int, window_seconds: float, clock: ManualClock) -> None:
        self.limit, self.window, self.clock = limit, window_seconds, clock
        self.sent: defaultdict[str, deque[float]] = defaultdict(deque)

    def try_acquire(self, endpoint: str) -> Slot | float | None:
        now, sent = self.clock.monotonic(), self.sent[endpoint]
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        if len(sent) < self.limit:
            sent.append(now)
            return Slot(endpoint)
        return sent[0] + self.window - now


# --- the basics ----------------------------------------------------------------------------


def test_at_most_limit_requests_in_any_window_with_instant_answers() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=5, window_seconds=60.0, clock=clock)
    started: list[float] = []

    for _ in range(23):
        with limiter.acquire("/v2/video/list/"):
            started.append(clock.monotonic())
        clock.advance(1.7)

    assert max_in_any_window(started, 60.0) == 5


def test_first_limit_requests_pass_without_waiting() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=3, window_seconds=10.0, clock=clock)

    slots = [limiter.acquire("e") for _ in range(3)]

    assert clock.sleeps == []
    assert limiter.in_flight("e") == 3
    assert all(isinstance(slot, Slot) and not slot.released for slot in slots)


def test_request_over_the_limit_waits_until_the_oldest_completion_leaves_the_window() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=2, window_seconds=10.0, clock=clock)
    limiter.acquire("e").release()
    clock.advance(4.0)
    limiter.acquire("e").release()

    limiter.acquire("e")

    assert clock.sleeps == [pytest.approx(6.0)]


def test_a_slot_counts_from_its_completion_not_its_start() -> None:
    """A request in flight for 50 s may land 50 s late: the window runs from its answer."""
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=1, window_seconds=60.0, clock=clock)
    slot = limiter.acquire("e")
    clock.advance(50.0)
    slot.release()

    limiter.acquire("e")

    assert clock.sleeps == [pytest.approx(60.0)]  # from the answer at 50 s, not from 0 s


def test_releasing_twice_frees_one_slot_only() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=2, window_seconds=60.0, clock=clock)
    slot = limiter.acquire("e")
    held = limiter.acquire("e")

    slot.release()
    slot.release()

    assert slot.released and not held.released
    assert limiter.in_flight("e") == 1
    assert limiter.try_acquire("e") == pytest.approx(60.0)  # one held, one completed


def test_slot_is_a_context_manager_that_releases_on_errors() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=1, window_seconds=60.0, clock=clock)

    with pytest.raises(RuntimeError), limiter.acquire("e"):
        raise RuntimeError("the request failed")

    assert limiter.in_flight("e") == 0
    assert limiter.try_acquire("e") == pytest.approx(60.0)


def test_try_acquire_says_what_to_wait_for() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=2, window_seconds=60.0, clock=clock)
    first = limiter.try_acquire("e")
    second = limiter.try_acquire("e")
    assert isinstance(first, Slot) and isinstance(second, Slot)

    assert limiter.try_acquire("e") is None  # both in flight: only a release can help
    clock.advance(10.0)
    first.release()
    assert limiter.try_acquire("e") == pytest.approx(60.0)
    clock.advance(60.0)
    assert isinstance(limiter.try_acquire("e"), Slot)


def test_acquire_blocks_while_every_slot_is_in_flight_until_one_is_released() -> None:
    entered = threading.Event()
    waiting: list[threading.Thread] = []

    class SignallingClock(ManualClock):
        def monotonic(self) -> float:
            if threading.current_thread() in waiting:
                entered.set()
            return super().monotonic()

    clock = SignallingClock()
    limiter = SlidingWindowLimiter(default_limit=1, window_seconds=60.0, clock=clock)
    held = limiter.acquire("e")
    granted: list[int] = []

    def wait_for_a_slot() -> None:
        limiter.acquire("e").release()
        granted.append(micros(clock))

    waiter = threading.Thread(target=wait_for_a_slot)
    waiting.append(waiter)
    waiter.start()
    # the waiter read the clock under the limiter's lock, so it is blocked in `acquire` by the
    # time this release gets the lock: it must wait for the release, then a window from it
    assert entered.wait(timeout=10)
    clock.advance(30.0)
    held.release()
    waiter.join(timeout=10)

    assert not waiter.is_alive()
    assert granted == [90 * MICROS]


def test_endpoints_have_independent_budgets() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(default_limit=2, window_seconds=60.0, clock=clock)

    for endpoint in ("/v2/video/list/", "/v2/user/info/", "business/comment/list/"):
        limiter.acquire(endpoint)
        limiter.acquire(endpoint)

    assert clock.sleeps == []
    assert limiter.in_flight("/v2/user/info/") == 2
    assert limiter.in_flight("never/used/") == 0


def test_per_endpoint_limits_override_the_default() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(
        default_limit=600, window_seconds=60.0, limits={"/v2/video/query/": 1}, clock=clock
    )
    limiter.acquire("/v2/video/query/").release()

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


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(default_limit=0)
    with pytest.raises(ValueError):
        SlidingWindowLimiter(limits={"e": 0})


def test_unlimited_limiter_never_waits() -> None:
    limiter = UnlimitedLimiter()

    limiter.penalize("e", 100.0)
    with limiter.acquire("e") as slot:
        assert not slot.released
    assert slot.released


def test_both_limiters_satisfy_the_protocol() -> None:
    assert isinstance(SlidingWindowLimiter(), RateLimiter)
    assert isinstance(UnlimitedLimiter(), RateLimiter)


# --- the property: the server's windows, with requests in flight -------------------------------


@pytest.mark.parametrize(("counted_at", "busiest"), [("admission", 3), ("completion", 2)])
def test_a_late_arrival_cannot_crowd_the_next_window(counted_at: str, busiest: int) -> None:
    """The flaw, in four requests: A is admitted at 0 s and lands at 59.9 s, B lands at once.

    Counting at admission, C and D may go at 60 s, and the server sees A, C and D within one
    minute. Counting at completion, D must wait for A's window to end.
    """
    clock = ManualClock()
    limiter: AdmissionTimeLimiter | SlidingWindowLimiter = (
        AdmissionTimeLimiter(2, 60.0, clock)
        if counted_at == "admission"
        else SlidingWindowLimiter(2, 60.0, clock=clock)
    )
    arrivals: list[float] = []

    def send() -> Slot:
        while not isinstance(outcome := limiter.try_acquire("e"), Slot):
            assert outcome is not None
            clock.advance(outcome)
        return outcome

    a, b = send(), send()
    arrivals.append(clock.monotonic())  # b arrives at once
    b.release()
    clock.advance(59.9)
    arrivals.append(clock.monotonic())  # a arrives, very late
    a.release()
    clock.advance(0.1)
    for _ in range(2):  # c, then d, each answered at once
        with send():
            arrivals.append(clock.monotonic())

    assert max_in_any_window(arrivals, 60.0) == busiest


@dataclass(order=True)
class _Event:
    at: int  # microseconds
    seq: int
    worker: int = field(compare=False)
    kind: str = field(compare=False)  # "try", "arrive", "complete"


def simulate(
    make_limiter: Callable[[ManualClock], object],
    *,
    seed: int,
    workers: int,
    requests: int,
    window: float,
    max_latency: float,
    penalty_rate: float = 0.0,
) -> dict[str, list[int]]:
    """A discrete-event run of `workers` concurrent callers against one limiter and a server.

    Each request picks an endpoint, takes a slot (`try_acquire`, waiting as told: a time, or a
    release), travels a random time to the server, which stamps its arrival, and takes another
    random time to come back, when its slot is released. Sometimes the answer asks for a
    back-off (`penalize`). Returns the server's arrival times per endpoint, in microseconds.
    """
    rng = random.Random(seed)
    clock = ManualClock()
    limiter = make_limiter(clock)
    endpoints = ("/v2/video/list/", "business/comment/list/")
    events: list[_Event] = []
    seq = iter(range(10**9))
    slots: dict[int, Slot] = {}
    wants: dict[int, str] = {}
    blocked: list[int] = []  # workers waiting for a release
    arrivals: dict[str, list[int]] = {endpoint: [] for endpoint in endpoints}
    issued = min(workers, requests)

    def at(when: int, worker: int, kind: str) -> None:
        heapq.heappush(events, _Event(when, next(seq), worker, kind))

    def latency() -> int:
        # mostly quick, sometimes very slow, sometimes zero
        shape = rng.random()
        if shape < 0.1:
            return 0
        if shape < 0.8:
            return rng.randrange(1, max(2, int(max_latency * MICROS / 20)))
        return rng.randrange(1, int(max_latency * MICROS))

    for worker in range(issued):
        wants[worker] = rng.choice(endpoints)
        at(rng.randrange(0, MICROS), worker, "try")
    while events:
        event = heapq.heappop(events)
        now = micros(clock)
        assert event.at >= now
        clock.advance((event.at - now) / MICROS)
        assert micros(clock) == event.at
        worker = event.worker
        if event.kind == "try":
            outcome = limiter.try_acquire(wants[worker])  # type: ignore[attr-defined]
            if isinstance(outcome, Slot):
                slots[worker] = outcome
                at(event.at + latency(), worker, "arrive")
            elif outcome is None:
                blocked.append(worker)
            else:
                at(event.at + max(1, math.ceil(outcome * MICROS - 1e-3)), worker, "try")
        elif event.kind == "arrive":
            arrivals[wants[worker]].append(event.at)
            at(event.at + latency(), worker, "complete")
        else:
            endpoint = wants[worker]
            slots.pop(worker).release()
            if penalty_rate and rng.random() < penalty_rate:
                limiter.penalize(endpoint, rng.uniform(0.0, window / 2))  # type: ignore[attr-defined]
            for waiting in blocked:
                at(event.at, waiting, "try")
            blocked.clear()
            if issued < requests:
                issued += 1
                wants[worker] = rng.choice(endpoints)
                at(event.at + rng.choice((0, 0, rng.randrange(0, 2 * MICROS))), worker, "try")
    assert not slots and not blocked
    return arrivals


@pytest.mark.parametrize("seed", range(12))
def test_server_windows_never_exceed_the_limit_whatever_the_latency(seed: int) -> None:
    rng = random.Random(1_000 + seed)
    limit = rng.choice((1, 2, 3, 5, 8, 13))
    window = rng.choice((1.0, 10.0, 60.0))
    workers = rng.choice((1, 2, 4, 8, 16))
    max_latency = window * rng.choice((0.05, 0.5, 1.0, 3.0))  # up to three windows in flight
    arrivals = simulate(
        lambda clock: SlidingWindowLimiter(limit, window, clock=clock),
        seed=seed,
        workers=workers,
        requests=300,
        window=window,
        max_latency=max_latency,
        penalty_rate=0.05 if seed % 3 == 0 else 0.0,
    )

    for endpoint, times in arrivals.items():
        assert max_in_any_window(times, window * MICROS) <= limit, (endpoint, limit, workers)
    assert sum(len(times) for times in arrivals.values()) == 300


def test_the_budget_still_binds_when_answers_are_quick() -> None:
    """Conservative, not timid: with short round trips the windows fill up to the limit."""
    arrivals = simulate(
        lambda clock: SlidingWindowLimiter(30, 60.0, clock=clock),
        seed=4,
        workers=8,
        requests=400,
        window=60.0,
        max_latency=0.5,
    )

    assert all(max_in_any_window(times, 60 * MICROS) == 30 for times in arrivals.values())


def test_the_simulation_catches_counting_at_admission() -> None:
    """The same runs with the old design exceed the limit: the property test has teeth."""
    worst = 0
    for seed in range(5):
        arrivals = simulate(
            lambda clock: AdmissionTimeLimiter(30, 60.0, clock),
            seed=seed,
            workers=8,
            requests=300,
            window=60.0,
            max_latency=20.0,
        )
        worst = max(worst, *(max_in_any_window(t, 60 * MICROS) for t in arrivals.values()))

    assert worst > 30


@pytest.mark.parametrize("seed", range(4))
def test_threads_with_requests_in_flight_never_exceed_the_limit(seed: int) -> None:
    """Real threads on the blocking `acquire`, each request in flight for a random time.

    Every thread's sleeps move the one shared clock, so a request is often overtaken by
    minutes of other threads' waiting: the servers' windows must hold all the same.
    """
    limit, window, threads, per_thread = 4, 60.0, 6, 12
    clock = ManualClock()
    limiter = SlidingWindowLimiter(limit, window, clock=clock)
    arrivals: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(rng: random.Random) -> None:
        try:
            for _ in range(per_thread):
                with limiter.acquire("/v2/video/list/"):
                    clock.sleep(rng.choice((0.0, rng.uniform(0, 2), rng.uniform(0, 90))))
                    with lock:
                        arrivals.append(clock.monotonic())
                    clock.sleep(rng.choice((0.0, rng.uniform(0, 2), rng.uniform(0, 90))))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [
        threading.Thread(target=worker, args=(random.Random(seed * 100 + n),))
        for n in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in pool)
    assert errors == []
    assert len(arrivals) == threads * per_thread
    assert max_in_any_window(arrivals, window) <= limit
    assert limiter.in_flight("/v2/video/list/") == 0


def test_the_manual_clock_keeps_wall_and_monotonic_time_together() -> None:
    """The limiter measures monotonic time, a sandbox wall time: fractional sleeps must not
    let the two drift apart (the clock counts whole microseconds, never waking early)."""
    clock = ManualClock()
    start_wall, start_mono = clock.now(), clock.monotonic()

    for _ in range(10_000):
        clock.sleep(0.1)
        clock.sleep(1.1)
        clock.sleep(3e-7)  # rounds up to one microsecond

    elapsed = (clock.now() - start_wall).total_seconds()
    assert elapsed == 12_000.01
    assert clock.monotonic() - start_mono == pytest.approx(elapsed, abs=1e-9)
