"""Fault injection and the enforced rate limit of the sandbox.

`FaultConfig` says how often each fault happens; `FaultInjector` draws from a seeded RNG
once per API request, so a given seed yields the same fault sequence every run.
A stalling page (`stalls`) is drawn separately, per listing page, so turning it on leaves
the other faults' sequence as it was. `SlidingWindowLimiter` enforces TikTok's
per-endpoint sliding one-minute window against the injected clock, so tests exceed it
without sleeping.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

import httpx


class Fault(StrEnum):
    DROP = "drop"
    HTML_504 = "html_504"
    HTTP_5XX = "5xx"
    HTTP_429 = "429"
    THROTTLE_40100 = "40100"
    SERVER_50000 = "50000"
    STALL = "stall"
    DROP_AFTER_APPLY = "drop_after_apply"


# the listings a stalling page can hit (paths relative to either family's root)
LISTING_ENDPOINTS: tuple[str, ...] = (
    "business/video/list/",
    "business/comment/list/",
    "business/comment/reply/list/",
    "video/list/",
)

# the comment writes a `drop_after_apply` fault hits
WRITE_ENDPOINTS: tuple[str, ...] = (
    "business/comment/create/",
    "business/comment/reply/create/",
    "business/comment/delete/",
    "business/comment/hide/",
)


@dataclass(frozen=True)
class FaultConfig:
    """How the sandbox misbehaves. Rates are probabilities per API request (0..1).

    - `latency`: seconds added to every request; slept in server mode, added to a
      `SandboxClock` in-process (never slept in-process).
    - `rate_429`: HTTP 429 (`rate_limit_exceeded` / Business `40100`).
    - `rate_5xx`: HTTP 500 with the family's server-error envelope.
    - `rate_html_504`: HTTP 504 with an HTML body, as proxies answer.
    - `rate_drop`: the connection closes without a response.
    - `rate_40100`: Business throttle on HTTP 200 (Display requests are unaffected).
    - `rate_50000`: Business server error on HTTP 200 (Display requests are unaffected).
    - `rate_limit_per_minute`: enforced sliding one-minute budget per endpoint.
    - `rate_stall`: a listing page answers `has_more: true` with the cursor it was given
      (a stalled or looping listing; the page's records are kept), drawn per listing page.
    - `stall_cursors`: listing pages asked for at these cursors always stall (the first
      page is cursor 0, whether or not the request named it).
    - `stall_endpoints`: the listings that stall, matched on the end of the path.
    - `drop_after_apply`: the next N successful comment writes (`WRITE_ENDPOINTS`) are
      applied, then the connection drops before the answer: the ambiguous failure a
      client must not retry blindly.
    - `seed`: seeds the fault sequence.
    """

    latency: float = 0.0
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_html_504: float = 0.0
    rate_drop: float = 0.0
    rate_40100: float = 0.0
    rate_50000: float = 0.0
    rate_limit_per_minute: int | None = None
    rate_stall: float = 0.0
    stall_cursors: tuple[int, ...] = ()
    stall_endpoints: tuple[str, ...] = LISTING_ENDPOINTS
    drop_after_apply: int = 0
    seed: int = 0


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised by the app to drop the connection; the server closes the socket on it."""


class FaultInjector:
    """One seeded draw per API request decides which fault, if any, it suffers."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._stall_rng = random.Random(config.seed)
        self._lock = threading.Lock()
        self._drops_left = config.drop_after_apply

    def drops_after_apply(self, endpoint: str) -> bool:
        """Whether this applied write loses its answer (counts down `drop_after_apply`)."""
        if not endpoint.endswith(WRITE_ENDPOINTS):
            return False
        with self._lock:
            if self._drops_left <= 0:
                return False
            self._drops_left -= 1
            return True

    def stalls(self, endpoint: str, cursor: int) -> bool:
        """Whether this page of a listing answers with the cursor it was given."""
        config = self.config
        if not endpoint.endswith(tuple(config.stall_endpoints)):
            return False
        if cursor in config.stall_cursors:
            return True
        if not config.rate_stall:
            return False
        with self._lock:
            return self._stall_rng.random() < config.rate_stall

    def draw(self, business: bool) -> Fault | None:
        config = self.config
        table: list[tuple[Fault, float]] = [
            (Fault.DROP, config.rate_drop),
            (Fault.HTML_504, config.rate_html_504),
            (Fault.HTTP_5XX, config.rate_5xx),
            (Fault.HTTP_429, config.rate_429),
            (Fault.THROTTLE_40100, config.rate_40100 if business else 0.0),
            (Fault.SERVER_50000, config.rate_50000 if business else 0.0),
        ]
        if not any(rate for _, rate in table):
            return None
        with self._lock:
            roll = self._rng.random()
        threshold = 0.0
        for fault, rate in table:
            threshold += rate
            if roll < threshold:
                return fault
        return None


class SlidingWindowLimiter:
    """At most `limit` admitted requests per key in any `window` seconds."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._admitted: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, now: float) -> bool:
        with self._lock:
            times = self._admitted.setdefault(key, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True
