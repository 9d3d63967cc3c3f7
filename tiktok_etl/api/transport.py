"""The one HTTP path every TikTok call takes: rate limiting, retries, backoff, stats.

`Transport` owns a single `httpx.Client` (one connection pool shared by every
endpoint and both API families). For each attempt it takes a slot from the
rate limiter, sends, releases the slot once the answer or error is back (the
limiter counts a request at its completion), and asks the family's envelope
parser (`classify`) what the response means. Retryable failures wait with
exponential backoff and full jitter, stretched to any `Retry-After` /
`X-Rate-Limit-Reset` the server sent. Every wait (backoff, server-requested,
limiter) counts towards the policy's `max_total_wait`; one that would not fit
fails at once with `RateLimited` (see `wait_cap`), never a silent long sleep.
It does not know any envelope, token or endpoint: those live in the clients.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from importlib import metadata
from typing import Any

import httpx

from tiktok_etl.api.clock import Clock, SystemClock
from tiktok_etl.api.errors import RateLimited, RequestNotSendable, TikTokError, TransportError
from tiktok_etl.api.outcome import Outcome
from tiktok_etl.api.ratelimit import RateLimiter, UnlimitedLimiter, WaitTooLong
from tiktok_etl.api.redaction import RedactingFilter
from tiktok_etl.api.wait_cap import limiter_wait_capped, seconds, server_wait_capped

logger = logging.getLogger("tiktok_etl.api")
# a safety net: its lines reach the Dagster run log (python_logs in the instance yaml)
logger.addFilter(RedactingFilter())

Classifier = Callable[[httpx.Response, str], Outcome]

# the request never left this machine: always safe to retry
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# retrying cannot help
HOPELESS = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def _default_user_agent() -> str:
    try:
        version = metadata.version("tiktok_etl")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"tiktok-etl/{version}"


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, capped per wait and in total.

    The wait before retry number `n` (0 for the first retry) is drawn from
    `uniform(0, min(max_delay, base_delay * 2**n))`. A server-requested wait is
    honoured in full (it may exceed `max_delay`). `max_total_wait` caps all the
    waiting of one request: backoff, server-requested waits and time held in the
    rate limiter. A wait that would push the total past it fails the request at
    once with `RateLimited`; a wait asked for on a success pauses the endpoint
    for at most `max_total_wait`. `cap_name` is how messages name the cap (the
    setting an operator changes).
    """

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total_wait: float = 300.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    cap_name: str = "max_total_wait"

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_total_wait) < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, retry_number: int) -> float:
        return self.rng.uniform(0.0, min(self.max_delay, self.base_delay * 2**retry_number))


@dataclass
class RequestStats:
    """Counters of what a transport did; safe to update from many threads."""

    requests: int = 0
    retries: int = 0
    pages: int = 0
    rate_limited: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_request(self, endpoint: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1

    def record_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def record_page(self) -> None:
        with self._lock:
            self.pages += 1

    def record_rate_limited(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "pages": self.pages,
                "rate_limited": self.rate_limited,
                "by_endpoint": dict(self.by_endpoint),
            }


@dataclass(frozen=True)
class Reply:
    """A successful exchange: the raw response and the payload the envelope parser extracted."""

    response: httpx.Response
    payload: Any
    attempts: int


def server_wait_hint(response: httpx.Response, now: datetime) -> float | None:
    """Seconds the server asked us to wait, from `Retry-After` or `X-Rate-Limit-*` headers."""
    wait = server_wait(response, now)
    return None if wait is None else wait[0]


def server_wait(response: httpx.Response, now: datetime) -> tuple[float, str] | None:
    """Seconds the server asked us to wait, and the header that said so."""
    retry_after = response.headers.get("retry-after")
    if retry_after:
        try:
            return max(0.0, float(retry_after)), "Retry-After"
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, (when - now).total_seconds()), "Retry-After"
    remaining = response.headers.get("x-rate-limit-remaining")
    reset = response.headers.get("x-rate-limit-reset")
    if reset and (response.status_code == 429 or (remaining or "").strip() == "0"):
        try:
            value = float(reset)
        except ValueError:
            return None
        # undocumented: accept seconds to wait, or an epoch in seconds or milliseconds
        if value > 1e12:
            value /= 1000.0
        if value > 1e9:
            value -= now.timestamp()
        return max(0.0, value), "X-Rate-Limit-Reset"
    return None


class Transport:
    """Sends TikTok requests through one connection pool, a rate limiter and a retry policy.

    Example:
        with Transport(limiter=SlidingWindowLimiter(600)) as transport:
            client = DisplayClient(transport, StaticTokenProvider("act..."),
                                   base_url="https://open.tiktokapis.com")
            client.user_info()
    """

    def __init__(
        self,
        *,
        client: httpx.Client | None = None,
        http_transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        user_agent: str | None = None,
        max_connections: int = 20,
    ) -> None:
        self._owns_client = client is None
        self._client = client or httpx.Client(
            transport=http_transport,
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"User-Agent": user_agent or _default_user_agent()},
        )
        self.limiter: RateLimiter = limiter or UnlimitedLimiter()
        self.retry = retry or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self.stats = RequestStats()

    def send(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        classify: Classifier,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        idempotent: bool = True,
    ) -> Reply:
        """Send until `classify` accepts the response, a final error, or the retry budget ends.

        `idempotent=False` (writes, authorization-code exchanges) retries only
        failures where the server certainly did not act: throttling,
        maintenance, connections that never opened.
        """
        policy = self.retry
        path = httpx.URL(url).path
        # every second this request spends waiting (backoff, server asked, limiter)
        waited = 0.0
        last_error: TikTokError | None = None
        for attempt in itertools.count(1):
            hint: float | None = None
            hint_source = ""
            failure: httpx.TransportError | None = None
            try:
                slot = self.limiter.acquire(
                    endpoint, max_wait=max(0.0, policy.max_total_wait - waited)
                )
            except WaitTooLong as exc:
                capped = limiter_wait_capped(
                    last_error,
                    endpoint=endpoint,
                    method=method,
                    wait=exc.wait,
                    reason=exc.reason,
                    cap=policy.max_total_wait,
                    cap_name=policy.cap_name,
                    waited=waited + exc.waited,
                )
                logger.warning("%s", capped)
                raise capped from last_error
            waited += slot.waited
            # the slot is released when the answer (or any error) is back: see ratelimit
            try:
                self.stats.record_request(endpoint)
                response = self._client.request(
                    method,
                    url,
                    headers=headers,
                    params=params,
                    json=json,
                    data=data,
                    content=content,
                )
            except httpx.TransportError as exc:
                failure = exc
            finally:
                slot.release()
            if failure is not None:
                logger.debug(
                    "%s %s -> %s (attempt %d)", method, path, type(failure).__name__, attempt
                )
                outcome = _transport_failure(failure, method, endpoint)
            else:
                logger.debug(
                    "%s %s -> %s (attempt %d)", method, path, response.status_code, attempt
                )
                server_asked = server_wait(response, self.clock.now())
                if server_asked is not None:
                    hint, hint_source = server_asked
                outcome = classify(response, endpoint)
                if outcome.ok:
                    if hint:
                        self._pause_after_success(method, path, endpoint, hint, hint_source)
                    return Reply(response, outcome.payload, attempt)

            error = outcome.error
            assert error is not None
            last_error = error
            if outcome.throttled:
                self.stats.record_rate_limited()
                if isinstance(error, RateLimited) and hint is not None:
                    error.retry_after = hint
            if not outcome.retryable:
                raise error
            if outcome.ambiguous and not idempotent:
                logger.warning(
                    "%s %s: not retrying a non-idempotent request after %s (it may have "
                    "been processed)",
                    method,
                    path,
                    type(error).__name__,
                )
                raise error
            if hint is not None and waited + hint > policy.max_total_wait:
                capped = server_wait_capped(
                    error,
                    endpoint=endpoint,
                    method=method,
                    asked=hint,
                    source=hint_source,
                    cap=policy.max_total_wait,
                    cap_name=policy.cap_name,
                    waited=waited,
                )
                logger.warning("%s", capped)
                raise capped from error
            delay = max(policy.backoff(attempt - 1), hint or 0.0)
            if attempt >= policy.max_attempts or waited + delay > policy.max_total_wait:
                logger.warning(
                    "%s %s: giving up after %d attempts (%.1fs waited): %s",
                    method,
                    path,
                    attempt,
                    waited,
                    type(error).__name__,
                )
                raise error
            if outcome.throttled:
                self.limiter.penalize(endpoint, delay)
            self.stats.record_retry()
            logger.info(
                "%s %s: %s, retry %d in %.2fs",
                method,
                path,
                type(error).__name__,
                attempt,
                delay,
            )
            self.clock.sleep(delay)
            waited += delay
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause_after_success(
        self, method: str, path: str, endpoint: str, hint: float, source: str
    ) -> None:
        """Honour a wait sent with a success, but never pause the endpoint beyond the cap."""
        cap = self.retry.max_total_wait
        if hint > cap:
            logger.warning(
                "%s %s: the server asked to pause for %s (%s) after a success; pausing "
                "for the %s retry wait cap (%s) instead",
                method,
                path,
                seconds(hint),
                source,
                seconds(cap),
                self.retry.cap_name,
            )
        self.limiter.penalize(endpoint, min(hint, cap))

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _transport_failure(exc: httpx.TransportError, method: str, endpoint: str) -> Outcome:
    if isinstance(exc, httpx.LocalProtocolError):
        # h11 quotes the header value it refused: never chain or repeat its message
        return Outcome.fail(
            RequestNotSendable(
                endpoint,
                "a header value is not valid HTTP (a stored token holding whitespace or a "
                "control character?); log the account in again: tiktok-etl auth login",
                method=method,
            )
        )
    error = TransportError(endpoint, f"{type(exc).__name__}: {exc}", method=method)
    error.__cause__ = exc
    if isinstance(exc, HOPELESS):
        return Outcome.fail(error)
    return Outcome.retry(error, ambiguous=not isinstance(exc, NEVER_SENT))
