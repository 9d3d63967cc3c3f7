"""Client-side request budgets, per endpoint, so we stay under TikTok's limits.

The Display API allows 600 requests per endpoint in a sliding minute, shared by
every process of an app. `RateLimiter` is the seam: the in-memory
`SlidingWindowLimiter` serves one process; a database-backed budget can
implement the same two methods for many. Endpoint keys are the API path
templates (`/v2/video/list/`, `business/comment/list/`), never full URLs.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from tiktok_etl.api.clock import Clock, SystemClock

# waits shorter than this are rounded up so float noise cannot spin a loop
_MIN_WAIT = 1e-6


@runtime_checkable
class RateLimiter(Protocol):
    """Decides when a request to an endpoint may be sent."""

    def acquire(self, endpoint: str) -> None:
        """Block until one request to `endpoint` may be sent, and count it."""
        ...

    def penalize(self, endpoint: str, seconds: float) -> None:
        """Send nothing to `endpoint` for `seconds` from now (the server asked us to back off)."""
        ...


class UnlimitedLimiter:
    """Never waits. For tests and for callers that budget elsewhere."""

    def acquire(self, endpoint: str) -> None:
        return None

    def penalize(self, endpoint: str, seconds: float) -> None:
        return None


class SlidingWindowLimiter:
    """An exact sliding-window budget per endpoint, thread-safe.

    In any interval of `window_seconds`, at most `limit` acquisitions succeed
    for one endpoint (`limits[endpoint]`, else `default_limit`). Endpoints are
    independent. Waiting goes through the clock, so a `ManualClock` makes the
    limiter deterministic and instant in tests.
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
        self._sent: defaultdict[str, deque[float]] = defaultdict(deque)
        self._blocked_until: dict[str, float] = {}

    def limit_for(self, endpoint: str) -> int:
        return self.limits.get(endpoint, self.default_limit)

    def acquire(self, endpoint: str) -> None:
        while True:
            wait = self._try_acquire(endpoint)
            if wait is None:
                return
            self._clock.sleep(max(wait, _MIN_WAIT))

    def penalize(self, endpoint: str, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            until = self._clock.monotonic() + seconds
            self._blocked_until[endpoint] = max(self._blocked_until.get(endpoint, until), until)

    def _try_acquire(self, endpoint: str) -> float | None:
        """Count a request and return None, or return how long to wait first."""
        with self._lock:
            now = self._clock.monotonic()
            blocked_until = self._blocked_until.get(endpoint, 0.0)
            if blocked_until > now:
                return blocked_until - now
            sent = self._sent[endpoint]
            while sent and sent[0] <= now - self.window_seconds:
                sent.popleft()
            if len(sent) < self.limit_for(endpoint):
                sent.append(now)
                return None
            return sent[0] + self.window_seconds - now
