"""Client-side request budgets, per endpoint, so we stay under TikTok's limits.

The Display API allows 600 requests per endpoint in a sliding minute, shared by
every process of an app. `RateLimiter` is the seam: the in-memory
`SlidingWindowLimiter` serves one process; a database-backed budget can
implement the same two methods for many. Endpoint keys are the API path
templates (`/v2/video/list/`, `business/comment/list/`), never full URLs.

A caller with a wait budget passes `acquire(endpoint, max_wait=...)`: a limiter
that would hold the request longer raises `WaitTooLong` at once instead of
sleeping, and every slot says how long it was held (`Slot.waited`), so the
transport counts limiter waits towards its retry cap.

Why a slot is counted when the request *completes*
--------------------------------------------------
The server counts a request when it *arrives*, which is some unknown time
after we decided to send it. A limiter that stamps each request with the
moment it was admitted (its start) is wrong under latency: a request admitted
at 0.5 s that arrives at 61 s falls into the server's next window, next to the
requests admitted at 60-61 s, and the server sees more than `limit` in one
minute (8 workers against a limit of 30 were seen to land 32).

So `acquire` returns a `Slot` and the caller releases it when the response (or
the error) is in hand. The budget stamps each slot conservatively:

- while the request is in flight its slot is occupied and never expires (it
  counts as "now" however long it takes);
- on `release()` the slot's stamp becomes the completion time `c`, and
  `c >= a`, the server's arrival time, because an answer cannot come back
  before the request got there;
- a request may start at time `t` only if fewer than `limit` slots are in
  flight or have `c > t - window`.

Claim: any half-open interval of `window` seconds holds at most `limit` server
arrivals. Suppose `limit + 1` requests arrive in `(T - window, T]`, and let `k`
be the one of them admitted last (admissions are serialised by a lock), at
`s_k <= a_k <= T`. Each of the other `limit` requests was admitted before `s_k`
and has `c_i >= a_i > T - window >= s_k - window`, so at `s_k` it was either
in flight or completed within the window: `limit` slots counted, and `k`
could not have been admitted. This holds for any latency and any number of
threads, with no assumption about how the server's clock relates to ours
beyond both measuring real time. It is exact in the sense that it never
waits for a request that certainly fell out of the server's window: all we
know of an arrival is `s <= a <= c`.

The price is throughput under high latency (each request occupies its slot
for its round trip plus a window), which is what staying under the limit
costs when arrivals cannot be observed. Callers must release every slot,
including on errors and timeouts (`Transport.send` does, in a `finally`); a
slot never released stays occupied. A request the client abandons on a
timeout could in principle still reach the server after `release()`; with a
timeout far shorter than the window, that is the one residual risk.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tiktok_etl.api.clock import Clock, SystemClock

# waits shorter than this are rounded up so float noise cannot spin a loop
_MIN_WAIT = 1e-6
# a wait this close to `max_wait` still fits (float noise in clock arithmetic)
_WAIT_SLACK = 1e-3


class WaitTooLong(Exception):
    """`acquire(..., max_wait=...)` would have to hold the request longer than `max_wait`.

    Raised before any sleeping, so the caller can fail fast with its own typed error.
    `wait` is the time still to wait, `waited` the time already spent in this `acquire`.
    """

    def __init__(
        self, endpoint: str, *, wait: float, waited: float, max_wait: float, reason: str
    ) -> None:
        self.endpoint = endpoint
        self.wait = wait
        self.waited = waited
        self.max_wait = max_wait
        self.reason = reason
        super().__init__(
            f"{endpoint}: would wait {wait:.1f}s more ({reason}), "
            f"beyond the {max_wait - waited:.1f}s allowed"
        )


class Slot:
    """One request's place in a budget, held from `acquire` until the answer is back.

    `release()` records the completion; it is idempotent and thread-safe. A slot
    is also a context manager that releases on exit. Limiters create slots with
    the callback that records the completion in their own budget, and set
    `waited` to the time the caller spent in `acquire`.
    """

    __slots__ = ("_lock", "_on_release", "_released", "endpoint", "waited")

    def __init__(self, endpoint: str, on_release: Callable[[], None] | None = None) -> None:
        self.endpoint = endpoint
        # seconds `acquire` held the caller before granting this slot
        self.waited = 0.0
        self._on_release = on_release
        self._released = False
        self._lock = threading.Lock()

    @property
    def released(self) -> bool:
        with self._lock:
            return self._released

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
            on_release, self._on_release = self._on_release, None
        if on_release is not None:
            on_release()

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self.released else "in flight"
        return f"Slot({self.endpoint!r}, {state})"


@runtime_checkable
class RateLimiter(Protocol):
    """Decides when a request to an endpoint may be sent."""

    def acquire(self, endpoint: str, max_wait: float | None = None) -> Slot:
        """Block until one request to `endpoint` may be sent, and occupy a slot for it.

        The caller must `release()` the slot once the response or error is back,
        whatever happened; the request counts against the budget until then.
        With `max_wait`, raise `WaitTooLong` (without sleeping) as soon as the time
        to wait is known to exceed it.
        """
        ...

    def penalize(self, endpoint: str, seconds: float) -> None:
        """Send nothing to `endpoint` for `seconds` from now (the server asked us to back off)."""
        ...


class UnlimitedLimiter:
    """Never waits. For tests and for callers that budget elsewhere."""

    def acquire(self, endpoint: str, max_wait: float | None = None) -> Slot:
        return Slot(endpoint)

    def penalize(self, endpoint: str, seconds: float) -> None:
        return None


@dataclass
class _Budget:
    """One endpoint's slots: how many are in flight, and completion times in order."""

    in_flight: int = 0
    completed: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class SlidingWindowLimiter:
    """An exact sliding-window budget per endpoint, counted at completion; thread-safe.

    For one endpoint (`limits[endpoint]`, else `default_limit`) a request starts
    only while fewer than `limit` requests are in flight or completed within the
    last `window_seconds`; so the server, counting arrivals, never sees more than
    `limit` in any window (see the module docstring). Endpoints are independent.

    Waiting for time to pass goes through the clock, so a `ManualClock` makes the
    limiter deterministic and instant in tests. When every slot is in flight there
    is no time to wait for, only a release: that wait blocks the thread until
    another thread releases a slot (bounded by that request's own timeout, so
    `max_wait` does not cut it short, but it counts in `Slot.waited`).
    """

    def __init__(
        self,
        default_limit: int = 600,
        window_seconds: float = 60.0,
        limits: Mapping[str, int] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if default_limit < 1 or window_seconds <= 0:
            raise ValueError("default_limit must be >= 1 and window_seconds > 0")
        if limits and min(limits.values()) < 1:
            raise ValueError("every per-endpoint limit must be >= 1")
        self.default_limit = default_limit
        self.window_seconds = window_seconds
        self.limits = dict(limits or {})
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self._budgets: dict[str, _Budget] = {}

    def limit_for(self, endpoint: str) -> int:
        return self.limits.get(endpoint, self.default_limit)

    def acquire(self, endpoint: str, max_wait: float | None = None) -> Slot:
        start = self._clock.monotonic()
        while True:
            with self._released:
                outcome = self._try_acquire_locked(endpoint)
                if outcome is None:  # every slot is in flight: only a release can help
                    self._released.wait()
                    continue
                waited = self._clock.monotonic() - start
                if isinstance(outcome, Slot):
                    outcome.waited = waited
                    return outcome
                if max_wait is not None and waited + outcome > max_wait + _WAIT_SLACK:
                    raise WaitTooLong(
                        endpoint,
                        wait=outcome,
                        waited=waited,
                        max_wait=max_wait,
                        reason=self._why_waiting_locked(endpoint),
                    )
            self._clock.sleep(max(outcome, _MIN_WAIT))

    def try_acquire(self, endpoint: str) -> Slot | float | None:
        """Never blocks: a slot if one is free now; else the seconds to wait before
        asking again; else None when every slot is in flight (wait for a release)."""
        with self._lock:
            return self._try_acquire_locked(endpoint)

    def penalize(self, endpoint: str, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            budget = self._budget_locked(endpoint)
            budget.blocked_until = max(budget.blocked_until, self._clock.monotonic() + seconds)

    def in_flight(self, endpoint: str) -> int:
        """Slots of `endpoint` acquired and not yet released."""
        with self._lock:
            budget = self._budgets.get(endpoint)
            return budget.in_flight if budget else 0

    def _budget_locked(self, endpoint: str) -> _Budget:
        budget = self._budgets.get(endpoint)
        if budget is None:
            budget = self._budgets[endpoint] = _Budget()
        return budget

    def _try_acquire_locked(self, endpoint: str) -> Slot | float | None:
        """A slot; or seconds to wait before asking again; or None: wait for a release."""
        now = self._clock.monotonic()
        budget = self._budget_locked(endpoint)
        if budget.blocked_until > now:
            return budget.blocked_until - now
        limit = self.limit_for(endpoint)
        completed = budget.completed
        while completed and completed[0] <= now - self.window_seconds:
            completed.popleft()
        if budget.in_flight + len(completed) < limit:
            budget.in_flight += 1
            return Slot(endpoint, lambda: self._release(endpoint))
        if budget.in_flight >= limit:
            return None
        # this many completed slots must leave the window before one is free
        must_expire = budget.in_flight + len(completed) - limit + 1
        return completed[must_expire - 1] + self.window_seconds - now

    def _why_waiting_locked(self, endpoint: str) -> str:
        if self._budget_locked(endpoint).blocked_until > self._clock.monotonic():
            return "paused: the server asked us to back off"
        return f"its budget of {self.limit_for(endpoint)} per {self.window_seconds:g}s is spent"

    def _release(self, endpoint: str) -> None:
        with self._released:
            budget = self._budgets[endpoint]
            now = self._clock.monotonic()
            # keep completions ordered even if a clock ever steps back: later is safe
            if budget.completed and budget.completed[-1] > now:
                now = budget.completed[-1]
            budget.completed.append(now)
            budget.in_flight -= 1
            self._released.notify_all()
