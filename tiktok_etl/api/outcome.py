"""The verdict on one HTTP response, shared by the transport and the envelope parsers.

An envelope parser (one per API family) turns a response into an `Outcome`:
success with its payload, a retryable failure, or a final failure. The
transport only acts on outcomes, so it knows nothing about either envelope.
This module also holds the family-independent verdicts (HTTP 429, 5xx and
non-JSON bodies) that both parsers fall back to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import httpx

from tiktok_etl.api.errors import ApiError, RateLimited, ServerError, TikTokError, TransportError

NOT_JSON: Final = object()


@dataclass(frozen=True)
class Outcome:
    """What one response means.

    `ambiguous` says whether the server may have acted on the request even
    though it failed; non-idempotent requests (comment writes, code exchanges)
    are never retried after an ambiguous failure. `throttled` marks rate-limit
    answers, which also push back every other request to the same endpoint.
    """

    payload: Any = None
    error: TikTokError | None = None
    retryable: bool = False
    ambiguous: bool = True
    throttled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def success(cls, payload: Any) -> Outcome:
        return cls(payload=payload)

    @classmethod
    def fail(cls, error: TikTokError) -> Outcome:
        return cls(error=error)

    @classmethod
    def retry(cls, error: TikTokError, *, ambiguous: bool, throttled: bool = False) -> Outcome:
        return cls(error=error, retryable=True, ambiguous=ambiguous, throttled=throttled)


def parse_json(response: httpx.Response) -> Any:
    """The decoded JSON body, or `NOT_JSON` for HTML, empty or garbled bodies."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return NOT_JSON


def describe_body(response: httpx.Response) -> str:
    """A safe one-line description of a body we could not parse (never its content)."""
    content_type = response.headers.get("content-type", "no content-type")
    return f"non-JSON body ({content_type}, {len(response.content)} bytes)"


def throttled(
    response: httpx.Response, endpoint: str, code: str, message: str = "", **kw: Any
) -> Outcome:
    error = RateLimited(
        endpoint,
        code,
        message,
        method=response.request.method,
        http_status=response.status_code,
        **kw,
    )
    return Outcome.retry(error, ambiguous=False, throttled=True)


def server_failed(
    response: httpx.Response, endpoint: str, code: str, message: str = "", **kw: Any
) -> Outcome:
    # 503 and maintenance answers mean the request was not processed; other 5xx may have been
    not_processed = response.status_code == 503 or code == "60001"
    error = ServerError(
        endpoint,
        code,
        message,
        method=response.request.method,
        http_status=response.status_code,
        **kw,
    )
    return Outcome.retry(error, ambiguous=not not_processed)


def unparsable(response: httpx.Response, endpoint: str) -> Outcome:
    """The verdict for a body that is not JSON, whatever the family."""
    status = response.status_code
    detail = describe_body(response)
    if status == 429:
        return throttled(response, endpoint, "http_429", detail)
    if status >= 500:
        return server_failed(response, endpoint, f"http_{status}", detail)
    if status < 400:
        unreadable = TransportError(
            endpoint, f"HTTP {status} with a {detail}", method=response.request.method
        )
        return Outcome.retry(unreadable, ambiguous=True)
    error = ApiError(
        endpoint, f"http_{status}", detail, method=response.request.method, http_status=status
    )
    return Outcome.fail(error)
