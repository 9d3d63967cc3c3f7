"""OAuth routes of both families: consent, code exchange, rotating refresh, revoke.

Display: `GET /v2/auth/authorize/` (consent is simulated: an immediate 302 to the
`redirect_uri` with `code`, `scopes`, `state`, or `error=access_denied` when consent is
denied), `POST /v2/oauth/token/` (form-encoded, flat JSON answers) and
`POST /v2/oauth/revoke/`. Business: `tt_user/oauth2/token/`, `refresh_token/`, `revoke/`
(JSON in, Business envelope out). An authorization code works with either family's token
endpoint. Client credentials must be present but are not checked against anything.

Sandbox extensions on authorize: `sandbox_open_id=<id>` picks the account that "logs in"
(default: derived from `client_key`), `sandbox_consent=deny` denies this one request.
Business refresh and code failures answer code `40107` (TikTok does not document one).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from tiktok_etl.sandbox.context import ApiFailure, RequestContext, Route, Style
from tiktok_etl.sandbox.tokens import (
    BUSINESS_SCOPES_ALL,
    DISPLAY_SCOPES_ALL,
    Family,
    TokenGrant,
    TokenRejected,
)
from tiktok_etl.sandbox.world import stable_int

BUSINESS_INVALID_GRANT = 40107
KNOWN_SCOPES = frozenset(DISPLAY_SCOPES_ALL) | frozenset(BUSINESS_SCOPES_ALL)


def _redirect(redirect_uri: str, params: dict[str, str]) -> httpx.Response:
    parts = urlsplit(redirect_uri)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return httpx.Response(302, headers={"location": urlunsplit(parts._replace(query=query))})


def authorize(ctx: RequestContext) -> httpx.Response:
    client_key = ctx.required_query("client_key")
    redirect_uri = ctx.required_query("redirect_uri")
    state = ctx.query("state") or ""
    scopes = [item.strip() for item in (ctx.query("scope") or "").split(",") if item.strip()]
    denied = ctx.services.deny_consent or ctx.query("sandbox_consent") == "deny"
    error: tuple[str, str] | None = None
    if ctx.query("response_type") != "code":
        error = ("invalid_request", "response_type must be code.")
    elif not scopes or not set(scopes) <= KNOWN_SCOPES:
        error = ("invalid_scope", "scope is missing or lists an unknown scope.")
    elif denied:
        error = ("access_denied", "The user denied the authorization request.")
    if error is not None:
        return _redirect(
            redirect_uri, {"error": error[0], "error_description": error[1], "state": state}
        )
    open_id = ctx.query("sandbox_open_id") or (
        f"sbx-{stable_int(ctx.services.world.seed, 'open_id', client_key):016x}"
    )
    code = ctx.services.tokens.issue_code(
        open_id,
        scopes,
        redirect_uri,
        ctx.query("code_challenge"),
        ctx.query("code_challenge_method"),
    )
    return _redirect(redirect_uri, {"code": code, "scopes": ",".join(scopes), "state": state})


def _invalid_grant(ctx: RequestContext, message: str) -> ApiFailure:
    if ctx.style is Style.BUSINESS:
        return ApiFailure(BUSINESS_INVALID_GRANT, f"invalid_grant: {message}", 200)
    return ApiFailure("invalid_grant", message, 400)


def _require(ctx: RequestContext, body: dict[str, Any], *names: str) -> list[str]:
    values = [body.get(name) for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        raise ctx.fail("invalid_params", f"Missing parameters: {', '.join(missing)}.")
    return [str(value) for value in values]


def _exchange(
    ctx: RequestContext, family: Family, code: str, redirect_uri: str | None, verifier: str | None
) -> TokenGrant:
    tokens = ctx.services.tokens
    try:
        grant = tokens.redeem_code(code, redirect_uri, verifier)
    except TokenRejected as rejected:
        if rejected.reason == "missing_verifier":
            raise ctx.fail("invalid_params", rejected.message) from None
        raise _invalid_grant(ctx, rejected.message) from None
    return tokens.issue(grant.open_id, family, grant.scopes)


def _refresh(ctx: RequestContext, family: Family, refresh_token: str) -> TokenGrant:
    try:
        return ctx.services.tokens.refresh(refresh_token, family)
    except TokenRejected as rejected:
        if rejected.reason == "reused":
            ctx.services.stats.record_refresh_token_reuse()
        raise _invalid_grant(ctx, rejected.message) from None


def _revoke(ctx: RequestContext, family: Family, token: str) -> None:
    try:
        ctx.services.tokens.revoke(token, family)
    except TokenRejected as rejected:
        raise ctx.fail("invalid_params", rejected.message) from None


def display_token(ctx: RequestContext) -> httpx.Response:
    form = ctx.form_body()
    if not form.get("client_key") or not form.get("client_secret"):
        raise ApiFailure("invalid_client", "client_key and client_secret are required.", 401)
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        code, redirect_uri = _require(ctx, form, "code", "redirect_uri")
        grant = _exchange(ctx, "display", code, redirect_uri, form.get("code_verifier"))
    elif grant_type == "refresh_token":
        (refresh_token,) = _require(ctx, form, "refresh_token")
        grant = _refresh(ctx, "display", refresh_token)
    else:
        raise ApiFailure(
            "unsupported_grant_type", f"grant_type {grant_type!r} is not supported.", 400
        )
    return ctx.ok(grant.display_body())


def display_revoke(ctx: RequestContext) -> httpx.Response:
    form = ctx.form_body()
    _require(ctx, form, "client_key", "client_secret")
    (token,) = _require(ctx, form, "token")
    _revoke(ctx, "display", token)
    return ctx.ok({})


def business_token(ctx: RequestContext) -> httpx.Response:
    body = ctx.json_body()
    _require(ctx, body, "client_id", "client_secret")
    if body.get("grant_type") != "authorization_code":
        raise ctx.fail("invalid_params", "grant_type must be authorization_code.")
    (auth_code,) = _require(ctx, body, "auth_code")
    grant = _exchange(
        ctx, "business", auth_code, body.get("redirect_uri"), body.get("code_verifier")
    )
    return ctx.ok(grant.business_data())


def business_refresh(ctx: RequestContext) -> httpx.Response:
    body = ctx.json_body()
    _require(ctx, body, "client_id", "client_secret")
    if body.get("grant_type") != "refresh_token":
        raise ctx.fail("invalid_params", "grant_type must be refresh_token.")
    (refresh_token,) = _require(ctx, body, "refresh_token")
    return ctx.ok(_refresh(ctx, "business", refresh_token).business_data())


def business_revoke(ctx: RequestContext) -> httpx.Response:
    body = ctx.json_body()
    _require(ctx, body, "client_id", "client_secret")
    (access_token,) = _require(ctx, body, "access_token")
    _revoke(ctx, "business", access_token)
    return ctx.ok({})


def routes(business_prefix: str) -> list[Route]:
    return [
        Route("GET", "/v2/auth/authorize/", Style.OAUTH, authorize),
        Route("POST", "/v2/oauth/token/", Style.OAUTH, display_token),
        Route("POST", "/v2/oauth/revoke/", Style.OAUTH, display_revoke),
        Route("POST", business_prefix + "tt_user/oauth2/token/", Style.BUSINESS, business_token),
        Route(
            "POST",
            business_prefix + "tt_user/oauth2/refresh_token/",
            Style.BUSINESS,
            business_refresh,
        ),
        Route("POST", business_prefix + "tt_user/oauth2/revoke/", Style.BUSINESS, business_revoke),
    ]
