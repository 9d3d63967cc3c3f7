"""What every sandbox route handler shares: the request context, envelopes and errors.

A route has a `Style` (Display API, Business API, Display OAuth, admin). The style decides
the success envelope, the error shape and the error vocabulary, so handlers raise
`ctx.fail("invalid_params", ...)` and never build an error body themselves. Parameter
parsing and offset pagination live here too, so no handler repeats them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import parse_qsl

import httpx

from tiktok_etl.sandbox.tokens import AccessClaims, Family, TokenRejected

if TYPE_CHECKING:
    from tiktok_etl.sandbox.stats import SandboxStats
    from tiktok_etl.sandbox.tokens import TokenAuthority
    from tiktok_etl.sandbox.world import SandboxWorld

T = TypeVar("T")

ErrorKind = Literal[
    "invalid_params",
    "scope_missing",
    "token_invalid",
    "forbidden",
    "not_found",
    "throttled",
    "server_error",
]


class Style(StrEnum):
    DISPLAY = "display"
    BUSINESS = "business"
    OAUTH = "oauth"
    ADMIN = "admin"


# (code, HTTP status) per style and kind of error
ERRORS: dict[Style, dict[ErrorKind, tuple[str | int, int]]] = {
    Style.DISPLAY: {
        "invalid_params": ("invalid_params", 400),
        "scope_missing": ("scope_permission_missed", 400),
        "token_invalid": ("access_token_invalid", 401),
        "forbidden": ("scope_not_authorized", 401),
        "not_found": ("invalid_params", 400),
        "throttled": ("rate_limit_exceeded", 429),
        "server_error": ("internal_error", 500),
    },
    Style.BUSINESS: {
        "invalid_params": (40002, 200),
        "scope_missing": (40001, 200),
        "token_invalid": (40105, 200),
        "forbidden": (40001, 200),
        "not_found": (40001, 200),
        "throttled": (40100, 200),
        "server_error": (50000, 200),
    },
    Style.OAUTH: {
        "invalid_params": ("invalid_request", 400),
        "scope_missing": ("invalid_scope", 400),
        "token_invalid": ("invalid_grant", 400),
        "forbidden": ("unauthorized_client", 401),
        "not_found": ("invalid_request", 400),
        "throttled": ("rate_limit_exceeded", 429),
        "server_error": ("server_error", 500),
    },
    Style.ADMIN: {
        "invalid_params": ("invalid_request", 400),
        "scope_missing": ("invalid_scope", 400),
        "token_invalid": ("invalid_token", 400),
        "forbidden": ("forbidden", 403),
        "not_found": ("not_found", 404),
        "throttled": ("throttled", 429),
        "server_error": ("server_error", 500),
    },
}

MESSAGES: dict[ErrorKind, str] = {
    "token_invalid": "The access token is invalid or not found in the request.",
    "throttled": "API rate limit exceeded, please retry later.",
    "server_error": "Internal error, please retry later.",
}
BUSINESS_MESSAGES: dict[ErrorKind, str] = {
    "token_invalid": "Access token is invalid or has expired.",
    "throttled": "Too many requests. Please retry in some time.",
    "server_error": "Internal service error.",
}


def default_message(style: Style, kind: ErrorKind) -> str:
    if style is Style.BUSINESS and kind in BUSINESS_MESSAGES:
        return BUSINESS_MESSAGES[kind]
    return MESSAGES.get(kind, kind)


class ApiFailure(Exception):
    """An error response: `code` in the route's style, with its HTTP status."""

    def __init__(self, code: str | int, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    merged = {"content-type": "application/json; charset=utf-8", **(headers or {})}
    return httpx.Response(status, content=body, headers=merged)


def envelope(style: Style, log_id: str, data: Any) -> Any:
    """The success body of `style` around `data`."""
    if style is Style.DISPLAY:
        return {"data": data, "error": {"code": "ok", "message": "", "log_id": log_id}}
    if style is Style.BUSINESS:
        return {"code": 0, "message": "OK", "request_id": log_id, "data": data}
    return data


def error_body(style: Style, log_id: str, failure: ApiFailure) -> Any:
    """The error body of `style`, as in the display_error_*, business_rate_limited and
    display_token_error fixtures."""
    if style is Style.DISPLAY:
        error = {"code": failure.code, "message": failure.message, "log_id": log_id}
        return {"data": {}, "error": error}
    if style is Style.BUSINESS:
        return {"code": failure.code, "message": failure.message, "request_id": log_id, "data": {}}
    if style is Style.OAUTH:
        return {"error": failure.code, "error_description": failure.message, "log_id": log_id}
    return {"error": failure.code, "message": failure.message}


@dataclass(frozen=True)
class Services:
    world: SandboxWorld
    tokens: TokenAuthority
    stats: SandboxStats
    short_page_ratio: float
    deny_consent: bool


@dataclass
class RequestContext:
    """One request as a handler sees it."""

    request: httpx.Request
    style: Style
    services: Services
    now: int
    now_ms: int
    log_id: str
    endpoint: str

    # responses

    def ok(self, data: Any) -> httpx.Response:
        return json_response(200, envelope(self.style, self.log_id, data))

    def failure(self, failure: ApiFailure) -> httpx.Response:
        return json_response(failure.status, error_body(self.style, self.log_id, failure))

    def fail(self, kind: ErrorKind, message: str | None = None) -> ApiFailure:
        code, status = ERRORS[self.style][kind]
        return ApiFailure(code, message or default_message(self.style, kind), status)

    # inputs

    def query(self, name: str) -> str | None:
        value: str | None = self.request.url.params.get(name)
        return value

    def required_query(self, name: str) -> str:
        value = self.query(name)
        if not value:
            raise self.fail("invalid_params", f"{name} is required.")
        return value

    def json_body(self) -> dict[str, Any]:
        raw = self.request.content
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise self.fail("invalid_params", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise self.fail("invalid_params", "The request body must be a JSON object.")
        return body

    def form_body(self) -> dict[str, str]:
        content_type = self.request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in content_type:
            raise self.fail(
                "invalid_params", "Content-Type must be application/x-www-form-urlencoded."
            )
        return dict(parse_qsl(self.request.content.decode(), keep_blank_values=True))

    def integer(
        self, value: Any, name: str, default: int, low: int = 0, high: int | None = None
    ) -> int:
        """An integer parameter within [low, high]; `None` or "" means `default`."""
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise self.fail("invalid_params", f"{name} must be an integer.") from None
        if isinstance(value, float | bool) or number < low or (high is not None and number > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail("invalid_params", f"{name} must be an integer {bounds}.")
        return number

    def choice(self, value: str | None, name: str, allowed: Sequence[str], default: str) -> str:
        if value is None or value == "":
            return default
        if value not in allowed:
            raise self.fail("invalid_params", f"{name} must be one of {', '.join(allowed)}.")
        return value

    def field_list(
        self, requested: Sequence[str], allowed: Sequence[str], name: str = "fields"
    ) -> list[str]:
        unknown = [item for item in requested if item not in allowed]
        if unknown:
            raise self.fail("invalid_params", f"Unknown {name}: {', '.join(unknown)}.")
        return list(dict.fromkeys(requested))

    def json_list_query(self, name: str) -> list[Any] | None:
        """A query parameter holding a JSON array (Business `fields`), or None if absent."""
        raw = self.query(name)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, list):
            raise self.fail("invalid_params", f"{name} must be a JSON array.")
        return value

    # auth

    def authenticate(self) -> AccessClaims:
        """The caller's token claims; a missing, bad, expired or revoked token fails."""
        family: Family
        if self.style is Style.DISPLAY:
            scheme, _, token = self.request.headers.get("authorization", "").partition(" ")
            token = token.strip() if scheme.lower() == "bearer" else ""
            family = "display"
        else:
            token = self.request.headers.get("access-token", "").strip()
            family = "business"
        try:
            return self.services.tokens.verify_access(token, family)
        except TokenRejected as rejected:
            if rejected.reason == "expired":
                self.services.stats.record_expired_token()
            raise self.fail(
                "token_invalid", f"{MESSAGES['token_invalid']} ({rejected.message})"
            ) from None


@dataclass(frozen=True)
class OffsetPaging:
    """Integer offset pagination (`cursor`, `max_count`) as the Business API uses it."""

    cursor: int
    max_count: int

    @classmethod
    def parse(cls, ctx: RequestContext, limit: int, default: int) -> OffsetPaging:
        cursor = ctx.integer(ctx.query("cursor"), "cursor", default=0)
        max_count = ctx.integer(ctx.query("max_count"), "max_count", default, low=1, high=limit)
        return cls(cursor, max_count)

    def page(self, items: Sequence[T]) -> tuple[list[T], dict[str, Any]]:
        """(this page of `items`, {"cursor": next offset, "has_more": ...})."""
        page = list(items[self.cursor : self.cursor + self.max_count])
        next_cursor = self.cursor + len(page)
        return page, {"cursor": next_cursor, "has_more": next_cursor < len(items)}


Handler = Callable[[RequestContext], httpx.Response]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    style: Style
    handler: Handler
