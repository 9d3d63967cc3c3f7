"""Reading Display API (open.tiktokapis.com) responses.

Two shapes: the v2 envelope `{"data": ..., "error": {"code": "ok", ...}}`,
whose `error.code` must be checked even on HTTP 200, and the flat OAuth token
responses (`{"access_token": ...}` or `{"error": "invalid_grant", ...}`).
Each function maps one response to an `Outcome`; nothing here sends requests.
"""

from __future__ import annotations

from typing import Any

import httpx

from tiktok_etl.api.errors import ApiError, OAuthError, ScopeNotAuthorized, TokenExpired
from tiktok_etl.api.outcome import (
    NOT_JSON,
    Outcome,
    parse_json,
    server_failed,
    throttled,
    unparsable,
)

TOKEN_INVALID = "access_token_invalid"
SCOPE_ERRORS = frozenset({"scope_not_authorized", "scope_permission_missed"})
RATE_LIMITED = "rate_limit_exceeded"
INTERNAL_ERROR = "internal_error"
# OAuth error codes for which the server did not process the request
OAUTH_UNAVAILABLE = "temporarily_unavailable"
OAUTH_SERVER_ERROR = "server_error"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _optional_text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def classify_display(response: httpx.Response, endpoint: str) -> Outcome:
    """Map a v2 envelope response to success (`data`) or a typed error."""
    body = parse_json(response)
    if body is NOT_JSON or not isinstance(body, dict):
        return unparsable(response, endpoint)
    status = response.status_code
    raw_error = body.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    code = _text(error.get("code"))
    if code in ("", "ok") and 200 <= status < 300:
        return Outcome.success(body.get("data"))
    return _error_outcome(
        response,
        endpoint,
        code or f"http_{status}",
        _text(error.get("message")),
        _optional_text(error.get("log_id")),
    )


def _error_outcome(
    response: httpx.Response, endpoint: str, code: str, message: str, log_id: str | None
) -> Outcome:
    status = response.status_code
    kw: dict[str, Any] = {
        "method": response.request.method,
        "log_id": log_id,
        "http_status": status,
    }
    if code == TOKEN_INVALID:
        return Outcome.fail(TokenExpired(endpoint, code, message, **kw))
    if code in SCOPE_ERRORS:
        return Outcome.fail(ScopeNotAuthorized(endpoint, code, message, **kw))
    if status == 429 or code == RATE_LIMITED:
        return throttled(response, endpoint, code, message, log_id=log_id)
    if status >= 500 or code == INTERNAL_ERROR:
        return server_failed(response, endpoint, code, message, log_id=log_id)
    return Outcome.fail(ApiError(endpoint, code, message, **kw))


def classify_display_oauth(response: httpx.Response, endpoint: str) -> Outcome:
    """Map a flat OAuth response (token, refresh, revoke) to success (the body) or an error."""
    body = parse_json(response)
    if body is NOT_JSON or not isinstance(body, dict):
        return unparsable(response, endpoint)
    status = response.status_code
    error = body.get("error")
    if isinstance(error, dict):
        # some failures arrive in the v2 envelope rather than the flat OAuth shape
        code = _text(error.get("code"))
        if code in ("", "ok") and 200 <= status < 300:
            return Outcome.success(body)
        return _error_outcome(
            response,
            endpoint,
            code or f"http_{status}",
            _text(error.get("message")),
            _optional_text(error.get("log_id")),
        )
    if error:
        oauth_error = OAuthError(
            _text(error),
            _text(body.get("error_description")),
            log_id=_optional_text(body.get("log_id")),
        )
        if status == 429:
            return Outcome.retry(oauth_error, ambiguous=False, throttled=True)
        if error == OAUTH_UNAVAILABLE:
            return Outcome.retry(oauth_error, ambiguous=False)
        if error == OAUTH_SERVER_ERROR or status >= 500:
            return Outcome.retry(oauth_error, ambiguous=True)
        return Outcome.fail(oauth_error)
    if 200 <= status < 300:
        return Outcome.success(body)
    return _error_outcome(
        response, endpoint, f"http_{status}", "", _optional_text(body.get("log_id"))
    )
