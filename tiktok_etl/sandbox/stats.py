"""Counters the sandbox keeps about how it was used, for tests and benchmarks.

Thread-safe; read with `snapshot()` (also served as `GET /sandbox/stats`).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any


class SandboxStats:
    """Requests per endpoint, faults, rate-limit violations and OAuth misuse."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._violations: Counter[str] = Counter()
            self._recent: dict[str, deque[float]] = {}
            self._max_per_window: dict[str, int] = {}
            self._refresh_token_reuse = 0
            self._expired_token_requests = 0

    def record_request(self, endpoint: str, now: float) -> None:
        """Count one received request and track the busiest `window` seconds for its endpoint."""
        with self._lock:
            self._requests[endpoint] += 1
            recent = self._recent.setdefault(endpoint, deque())
            recent.append(now)
            while recent[0] <= now - self.window:
                recent.popleft()
            self._max_per_window[endpoint] = max(self._max_per_window.get(endpoint, 0), len(recent))

    def record_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def record_rate_limit_violation(self, endpoint: str) -> None:
        with self._lock:
            self._violations[endpoint] += 1

    def record_refresh_token_reuse(self) -> None:
        with self._lock:
            self._refresh_token_reuse += 1

    def record_expired_token(self) -> None:
        with self._lock:
            self._expired_token_requests += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self._requests),
                "requests_total": sum(self._requests.values()),
                "faults": dict(self._faults),
                "faults_total": sum(self._faults.values()),
                "rate_limit_violations": dict(self._violations),
                "refresh_token_reuse": self._refresh_token_reuse,
                "requests_with_expired_token": self._expired_token_requests,
                "max_requests_per_minute": dict(self._max_per_window),
            }
