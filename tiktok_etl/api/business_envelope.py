"""Reading Business API (business-api.tiktok.com) responses.

The envelope is `{"code": 0, "message": ..., "request_id": ..., "data": ...}`
and errors usually arrive with HTTP 200, so `code` is always checked. `40100`
is a throttle (retried exactly like HTTP 429), `40105` a rejected access token,
`50000`/`50002` server errors and `60001` maintenance (both retried).
"""

from __future__ import annotations

from typing import Any

import httpx

from tiktok_etl.api.errors import ApiError, TokenExpired
from tiktok_etl.api.outcome import (
    NOT_JSON,
    Outcome,
    parse_json,
    server_failed,
    throttled,
    unparsable,
)

OK = "0"
THROTTLED = "40100"
TOKEN_INVALID = "40105"
PARAMETER_ERRORS = frozenset({"40001", "40002"})
SERVER_ERRORS = frozenset({"50000", "50002"})
MAINTENANCE = "60001"
RETRYABLE = frozenset({THROTTLED, MAINTENANCE, *SERVER_ERRORS})


def classify_business(response: httpx.Response, endpoint: str) -> Outcome:
    """Map a Business envelope response to success (`data`) or a typed error."""
    body = parse_json(response)
    if body is NOT_JSON or not isinstance(body, dict):
        return unparsable(response, endpoint)
    status = response.status_code
    code = str(body["code"]) if body.get("code") is not None else None
    if code == OK and 200 <= status < 300:
        return Outcome.success(body.get("data"))
    if code is None and 200 <= status < 300:
        code = "malformed_envelope"
    elif code is None or code == OK:
        code = f"http_{status}"
    message = "" if body.get("message") is None else str(body["message"])
    request_id = None if body.get("request_id") in (None, "") else str(body["request_id"])
    kw: dict[str, Any] = {
        "method": response.request.method,
        "log_id": request_id,
        "http_status": status,
    }
    if code == TOKEN_INVALID:
        return Outcome.fail(TokenExpired(endpoint, code, message, **kw))
    if code == THROTTLED or status == 429:
        return throttled(response, endpoint, code, message, log_id=request_id)
    if code in SERVER_ERRORS or code == MAINTENANCE or status >= 500:
        return server_failed(response, endpoint, code, message, log_id=request_id)
    return Outcome.fail(ApiError(endpoint, code, message, **kw))
