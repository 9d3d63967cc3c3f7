"""`SandboxApp`: one request handler serving both TikTok API families and the admin routes.

`handle(httpx.Request) -> httpx.Response` is pure request handling, used in-process through
`as_transport()` (an `httpx.MockTransport`) or behind `SandboxServer`. Order of checks per
API request: count it, enforce the per-endpoint sliding-minute limit, draw a fault, then
route. Admin routes (`/sandbox/...`) skip all three.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

import httpx

from tiktok_etl.sandbox import admin, business, display, oauth, posting, research
from tiktok_etl.sandbox.clock import NowSource, as_utc
from tiktok_etl.sandbox.context import (
    ApiFailure,
    RequestContext,
    Route,
    Services,
    Style,
    json_response,
)
from tiktok_etl.sandbox.faults import (
    WRITE_ENDPOINTS,
    DroppedConnection,
    Fault,
    FaultConfig,
    FaultInjector,
    SlidingWindowLimiter,
)
from tiktok_etl.sandbox.stats import SandboxStats
from tiktok_etl.sandbox.tokens import Family, TokenAuthority
from tiktok_etl.sandbox.world import SandboxWorld

DEFAULT_BUSINESS_PREFIX = "/open_api/v1.3/"

HTML_504 = (
    b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    b"<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@runtime_checkable
class AdvanceableClock(Protocol):
    def advance(self, seconds: float) -> Any: ...


def _normalize(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def _given_cursor(request: httpx.Request) -> int | None:
    """The cursor a listing request asked for (query for Business, JSON body for Display)."""
    raw: object = request.url.params.get("cursor")
    if raw is None and request.content:
        try:
            body = json.loads(request.content)
        except ValueError:
            body = None
        raw = body.get("cursor") if isinstance(body, dict) else None
    try:
        return int(raw) if raw is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


class SandboxApp:
    """A simulated TikTok: Display API at `/v2/...`, Business API under `business_prefix`.

    Example::

        app = build_sandbox(seed=7, faults=FaultConfig(rate_429=0.05))
        client = httpx.Client(transport=app.as_transport(), base_url="https://sandbox.test")
        tokens = app.issue_tokens("acct-1")
        client.get("/v2/user/info/", params={"fields": "open_id"},
                   headers={"Authorization": f"Bearer {tokens['access_token']}"})
    """

    def __init__(
        self,
        world: SandboxWorld | None = None,
        tokens: TokenAuthority | None = None,
        faults: FaultConfig | None = None,
        clock: NowSource | None = None,
        *,
        short_page_ratio: float = 0.1,
        deny_consent: bool = False,
        business_prefix: str = DEFAULT_BUSINESS_PREFIX,
    ) -> None:
        self.world = world or SandboxWorld(clock=clock)
        self.clock: NowSource = clock or self.world.clock
        self.tokens = tokens or TokenAuthority(seed=self.world.seed, clock=self.clock)
        self.stats = SandboxStats()
        self.business_prefix = "/" + business_prefix.strip("/") + "/"
        self.services = Services(
            world=self.world,
            tokens=self.tokens,
            stats=self.stats,
            short_page_ratio=short_page_ratio,
            deny_consent=deny_consent,
        )
        self._ids = itertools.count(1)
        self.posting = posting.PostingDesk(self.world)
        self._faults_lock = threading.Lock()
        self.set_faults(faults or FaultConfig())
        self.research = research.ResearchService(self.world.seed, self.clock)
        self._routes: dict[tuple[str, str], Route] = {
            (route.method, route.path): route for route in self._all_routes()
        }
        self._paths = {path for _, path in self._routes}

    def _all_routes(self) -> Iterable[Route]:
        yield from display.routes()
        yield from oauth.routes(self.business_prefix)
        yield from business.routes(self.business_prefix)
        yield from admin.routes(self.set_faults)
        yield from self.research.routes()  # after oauth: it takes over /v2/oauth/token/
        yield from self.posting.routes()

    @property
    def faults(self) -> FaultConfig:
        return self._injector.config

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the fault configuration (resets the fault sequence and the rate window)."""
        limit = faults.rate_limit_per_minute
        with self._faults_lock:
            self._injector = FaultInjector(faults)
            self._limiter = SlidingWindowLimiter(limit) if limit is not None else None

    # helpers for the demo, CLI and tests

    def issue_tokens(
        self, open_id: str, family: Family = "display", scopes: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """A token pair as the family's token endpoint returns it (Business: the `data`)."""
        return self.tokens.issue(open_id, family, scopes).body()

    def revoke_refresh(self, open_id: str, family: Family = "display") -> None:
        self.tokens.revoke_refresh(open_id, family)

    def as_transport(self) -> httpx.BaseTransport:
        """An in-process transport; `latency` advances a `SandboxClock` instead of sleeping."""
        return httpx.MockTransport(self._handle_in_process)

    def _handle_in_process(self, request: httpx.Request) -> httpx.Response:
        latency = self.faults.latency
        if latency and isinstance(self.clock, AdvanceableClock):
            self.clock.advance(latency)
        return self.handle(request)

    # request handling

    def _style_of(self, path: str) -> Style:
        if path.startswith("/sandbox/"):
            return Style.ADMIN
        if path.startswith(self.business_prefix):
            return Style.BUSINESS
        if path.startswith(("/v2/oauth/", "/v2/auth/")):
            return Style.OAUTH
        return Style.DISPLAY

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request. Raises `DroppedConnection` when a dropped connection is injected."""
        path = _normalize(request.url.path)
        moment = as_utc(self.clock())
        seconds = moment.timestamp()
        route = self._routes.get((request.method, path))
        style = route.style if route is not None else self._style_of(path)
        ctx = RequestContext(
            request=request,
            style=style,
            services=self.services,
            now=int(seconds),
            now_ms=int(seconds * 1000),
            log_id=f"{moment:%Y%m%d%H%M%S}{next(self._ids):020X}",
            endpoint=path,
        )
        if route is None:
            status = 405 if path in self._paths else 404
            message = "Method not allowed." if status == 405 else f"No route for {path}."
            return json_response(status, {"error": "not_found", "message": message})
        if style is not Style.ADMIN:
            refusal = self._gate(ctx, seconds)
            if refusal is not None:
                return refusal
        try:
            response = route.handler(ctx)
        except ApiFailure as failure:
            return ctx.failure(failure)
        if style is not Style.ADMIN:
            self._maybe_drop_after_apply(ctx, response)
            return self._maybe_stall(ctx, response)
        return response

    def _maybe_drop_after_apply(self, ctx: RequestContext, response: httpx.Response) -> None:
        """Lose the answer of a write that was applied (`FaultConfig.drop_after_apply`)."""
        if response.status_code != 200 or not ctx.endpoint.endswith(WRITE_ENDPOINTS):
            return
        body = json.loads(response.content)
        if not isinstance(body, dict) or body.get("code") != 0:
            return  # refused, so nothing was applied
        with self._faults_lock:
            injector = self._injector
        if injector.drops_after_apply(ctx.endpoint):
            self.stats.record_fault(Fault.DROP_AFTER_APPLY.value)
            raise DroppedConnection(
                "Server disconnected without sending a response.", request=ctx.request
            )

    def _maybe_stall(self, ctx: RequestContext, response: httpx.Response) -> httpx.Response:
        """A listing page that answers `has_more: true` with the cursor it was given."""
        if response.status_code != 200:
            return response
        with self._faults_lock:
            injector = self._injector
        given = _given_cursor(ctx.request)
        if not injector.stalls(ctx.endpoint, given if given is not None else 0):
            return response
        body = json.loads(response.content)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or "has_more" not in data:
            return response
        self.stats.record_fault(Fault.STALL.value)
        data["cursor"] = given
        data["has_more"] = True
        return json_response(200, body)

    def _gate(self, ctx: RequestContext, seconds: float) -> httpx.Response | None:
        """Count the request, then apply the rate limit and faults; a response means refuse."""
        self.stats.record_request(ctx.endpoint, seconds)
        with self._faults_lock:
            limiter, injector = self._limiter, self._injector
        if limiter is not None and not limiter.admit(ctx.endpoint, seconds):
            self.stats.record_rate_limit_violation(ctx.endpoint)
            return ctx.failure(ctx.fail("throttled"))
        fault = injector.draw(business=ctx.style is Style.BUSINESS)
        if fault is None:
            return None
        self.stats.record_fault(fault.value)
        return self._fault_response(ctx, fault)

    def _fault_response(self, ctx: RequestContext, fault: Fault) -> httpx.Response:
        if fault is Fault.DROP:
            raise DroppedConnection(
                "Server disconnected without sending a response.", request=ctx.request
            )
        if fault is Fault.HTML_504:
            return httpx.Response(
                504, content=HTML_504, headers={"content-type": "text/html; charset=utf-8"}
            )
        if fault is Fault.HTTP_429:
            failure = ctx.fail("throttled")
            failure.status = 429
        elif fault is Fault.HTTP_5XX:
            failure = ctx.fail("server_error")
            failure.status = 500
        elif fault is Fault.THROTTLE_40100:
            failure = ctx.fail("throttled")
        else:
            failure = ctx.fail("server_error")
        return ctx.failure(failure)
