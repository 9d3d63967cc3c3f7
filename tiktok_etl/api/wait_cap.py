"""The error for a wait that does not fit in a request's retry cap.

A request may wait at most `RetryPolicy.max_total_wait` in total: backoff, what
the server asks for (`Retry-After`, `X-Rate-Limit-Reset`) and time held in the
rate limiter. When a wait would go past it, the transport fails at once with the
`RateLimited` built here instead of sleeping: it is retryable at the step level
(a later attempt starts with a fresh budget), and its message says what was
asked for and what the cap is, so an operator sees a throttled endpoint rather
than a run that hangs for a day. This module only builds errors; it never waits.
"""

from __future__ import annotations

from tiktok_etl.api.errors import ApiError, OAuthError, RateLimited, TikTokError

# the code of a wait-capped error that carries no code of TikTok's
WAIT_CAPPED = "wait_capped"


def seconds(value: float) -> str:
    """A wait as people read it: `86400s`, `300s`, `2.5s`."""
    return f"{value:.0f}s" if value >= 10 else f"{value:.1f}s"


def server_wait_capped(
    error: TikTokError,
    *,
    endpoint: str,
    method: str,
    asked: float,
    source: str,
    cap: float,
    cap_name: str,
    waited: float,
) -> RateLimited:
    """The server asked for `asked` seconds (in `source`), more than the cap leaves."""
    detail = (
        f"the server asked to wait {seconds(asked)} ({source}), beyond the {seconds(cap)} "
        f"retry wait cap ({cap_name}{_already(waited)}); failing now instead of waiting"
    )
    return _rate_limited(error, endpoint=endpoint, method=method, detail=detail, retry_after=asked)


def limiter_wait_capped(
    last_error: TikTokError | None,
    *,
    endpoint: str,
    method: str,
    wait: float,
    reason: str,
    cap: float,
    cap_name: str,
    waited: float,
) -> RateLimited:
    """The rate limiter would hold the request `wait` seconds more than the cap leaves."""
    detail = (
        f"the rate limiter would hold the request {seconds(wait)} more ({reason}), beyond "
        f"the {seconds(cap)} retry wait cap ({cap_name}{_already(waited)}); "
        "failing now instead of waiting"
    )
    if last_error is not None:
        detail += f"; the last attempt failed with {type(last_error).__name__}"
    return _rate_limited(
        last_error, endpoint=endpoint, method=method, detail=detail, retry_after=wait
    )


def _already(waited: float) -> str:
    return f"; {seconds(waited)} already waited" if waited >= 0.05 else ""


def _rate_limited(
    cause: TikTokError | None, *, endpoint: str, method: str, detail: str, retry_after: float
) -> RateLimited:
    code, said, log_id, status = WAIT_CAPPED, "", None, None
    if isinstance(cause, ApiError):
        code, said, log_id, status = cause.code, cause.message, cause.log_id, cause.http_status
    elif isinstance(cause, OAuthError):
        code, said, log_id = cause.error, cause.description, cause.log_id
    message = f"{said}; {detail}" if said else detail
    error = RateLimited(
        endpoint,
        code,
        message,
        method=method,
        log_id=log_id,
        http_status=status,
        retry_after=retry_after,
    )
    error.__cause__ = cause
    return error
