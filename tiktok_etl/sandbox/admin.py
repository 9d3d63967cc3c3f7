"""Sandbox-only admin routes (JSON, never faulted, never rate limited).

- `POST /sandbox/tokens` `{open_id, family, scopes?}`: a token pair, as `issue_tokens`.
- `POST /sandbox/revoke-refresh` `{open_id, family}`: kill the account's refresh chain.
- `GET /sandbox/stats`: `SandboxStats.snapshot()`; `POST /sandbox/stats/reset` zeroes it.
- `POST /sandbox/faults` `{FaultConfig fields}`: replace the fault configuration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, cast

import httpx

from tiktok_etl.sandbox.context import RequestContext, Route, Style
from tiktok_etl.sandbox.faults import FaultConfig
from tiktok_etl.sandbox.tokens import FAMILIES, Family


def _family(ctx: RequestContext, body: dict[str, Any]) -> tuple[str, Family]:
    open_id, family = body.get("open_id"), body.get("family", "display")
    if not isinstance(open_id, str) or not open_id or family not in FAMILIES:
        raise ctx.fail("invalid_params", 'Expected {"open_id": str, "family": display|business}.')
    return open_id, cast(Family, family)


def issue(ctx: RequestContext) -> httpx.Response:
    body = ctx.json_body()
    open_id, family = _family(ctx, body)
    scopes = body.get("scopes")
    if scopes is not None and (
        not isinstance(scopes, list) or not all(isinstance(item, str) for item in scopes)
    ):
        raise ctx.fail("invalid_params", "scopes must be a list of strings.")
    return ctx.ok(ctx.services.tokens.issue(open_id, family, scopes).body())


def revoke_refresh(ctx: RequestContext) -> httpx.Response:
    ctx.services.tokens.revoke_refresh(*_family(ctx, ctx.json_body()))
    return ctx.ok({})


def stats(ctx: RequestContext) -> httpx.Response:
    return ctx.ok(ctx.services.stats.snapshot())


def reset_stats(ctx: RequestContext) -> httpx.Response:
    ctx.services.stats.reset()
    return ctx.ok({})


def routes(set_faults: Callable[[FaultConfig], None]) -> list[Route]:
    def faults(ctx: RequestContext) -> httpx.Response:
        body = ctx.json_body()
        names = {item.name for item in dataclasses.fields(FaultConfig)}
        unknown = set(body) - names
        if unknown:
            raise ctx.fail(
                "invalid_params", f"Unknown fault options: {', '.join(sorted(unknown))}."
            )
        try:
            config = FaultConfig(**body)
        except TypeError as error:
            raise ctx.fail("invalid_params", str(error)) from None
        set_faults(config)
        return ctx.ok(dataclasses.asdict(config))

    return [
        Route("POST", "/sandbox/tokens/", Style.ADMIN, issue),
        Route("POST", "/sandbox/revoke-refresh/", Style.ADMIN, revoke_refresh),
        Route("GET", "/sandbox/stats/", Style.ADMIN, stats),
        Route("POST", "/sandbox/stats/reset/", Style.ADMIN, reset_stats),
        Route("POST", "/sandbox/faults/", Style.ADMIN, faults),
    ]
