"""Materializing the raw assets while access tokens expire again and again underneath.

The served sandbox's clock moves 100 s with every request it receives, and its access tokens
live a few requests (Display) or 25 requests (Business): a materialization spans several
token lifetimes, deterministically, without sleeping. The stored pair starts out expired
(refreshed before the first request); every later expiry is met by TikTok rejecting the
token (401 ``access_token_invalid`` / ``40105``), refreshed once through the account lock
and retried, also by the concurrent comment readers of a Business account.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx
import pytest

from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.sandbox import SandboxApp, SandboxServer, build_sandbox

from .helpers import Env, add_account, make_runtime, sandbox_stats

STEP = 100  # sandbox seconds per request the sandbox receives
TTL = {"display": 150, "business": 2500}  # access tokens outlive 1 and 25 requests


class RequestClock:
    """Sandbox time that moves ``step`` seconds with every request the sandbox receives:
    tokens expire after a known number of requests, however fast the machine is."""

    def __init__(self, step: float) -> None:
        # early today: the sandbox's day (and its history window) never rolls over mid-test
        self.origin = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
        self.step = step
        self.requests = 0
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return self.origin + timedelta(seconds=self.requests * self.step)

    def tick(self) -> None:
        with self._lock:
            self.requests += 1


def fast_sandbox(api: str) -> SandboxApp:
    clock = RequestClock(STEP)
    app = build_sandbox(
        seed=7,
        clock=clock,
        access_token_ttl=TTL[api],
        strict_rotation=True,
        history_days=8,
        videos_per_day=(2, 4),
        comments_per_video=(5, 15),
        comment_max_age_days=6,
        heavy_video_ratio=0.0,
    )
    handle = app.handle

    def counted(request: httpx.Request) -> httpx.Response:
        clock.tick()
        return handle(request)

    app.handle = counted  # type: ignore[method-assign]
    return app


@pytest.mark.parametrize("api", ["business", "display"])
def test_materialization_survives_many_token_lifetimes(
    serve: Callable[..., SandboxServer], env: Env, api: str
) -> None:
    server = serve(fast_sandbox(api))
    runtime = make_runtime(env.point_at(server).variables())
    body = server.app.issue_tokens("open-long", api)  # type: ignore[arg-type]
    add_account(runtime, "long", body, api=api, issued_at=datetime.now(UTC) - timedelta(hours=2))

    day = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("tiktok_accounts", ["long"])
        started = time.monotonic()
        result = dg.materialize(
            RAW_ASSETS,
            partition_key=f"long|{day}",
            resources={"tiktok": env.resource()},
            instance=instance,
        )
        elapsed = time.monotonic() - started
    assert result.success

    stats = sandbox_stats(server)
    stored = runtime.tokens.load("long")
    assert stored is not None
    refreshes = stored.version - 1
    assert refreshes >= 2, (refreshes, elapsed)  # the run outlived several access tokens
    assert stats["requests_with_expired_token"] >= 1  # ... and met TikTok's rejections
    assert stats["refresh_token_reuse"] == 0
    assert runtime.accounts.get("long").status == "active"
    token_endpoint = "tt_user/oauth2/refresh_token/" if api == "business" else "/v2/oauth/token/"
    assert sum(n for k, n in stats["requests"].items() if token_endpoint in k) == refreshes
