"""A simulated TikTok (Display API v2 and Business API v1.3) for the demo, tests and benchmarks.

The sandbox is reached through the project's real HTTP client code path: in-process with
`SandboxApp.as_transport()`, or over a socket with `SandboxServer`. Production modules do
not import it, except the CLI's `sandbox serve` and the `TIKTOK_ETL_SANDBOX=1` switch.

Example::

    from tiktok_etl.sandbox import SandboxServer, build_sandbox

    app = build_sandbox(seed=7, history_days=30)
    tokens = app.issue_tokens("acme_main", "display")
    with SandboxServer(app) as server:
        ...  # point TIKTOK_API_BASE_URL at server.base_url

Truth for tests: `app.world.videos(open_id, day)`, `app.world.business_videos(...)`,
`app.world.comments(open_id, day)`.
"""

from __future__ import annotations

from tiktok_etl.sandbox.app import SandboxApp
from tiktok_etl.sandbox.clock import NowSource, SandboxClock
from tiktok_etl.sandbox.faults import DroppedConnection, FaultConfig
from tiktok_etl.sandbox.server import SandboxServer
from tiktok_etl.sandbox.stats import SandboxStats
from tiktok_etl.sandbox.tokens import (
    BUSINESS_SCOPES_ALL,
    DISPLAY_SCOPES_ALL,
    TokenAuthority,
    issue_tokens,
)
from tiktok_etl.sandbox.world import SandboxWorld

__all__ = [
    "BUSINESS_SCOPES_ALL",
    "DISPLAY_SCOPES_ALL",
    "DroppedConnection",
    "FaultConfig",
    "NowSource",
    "SandboxApp",
    "SandboxClock",
    "SandboxServer",
    "SandboxStats",
    "SandboxWorld",
    "TokenAuthority",
    "build_sandbox",
    "issue_tokens",
]


def build_sandbox(
    seed: int = 7,
    *,
    clock: NowSource | None = None,
    faults: FaultConfig | None = None,
    history_days: int = 400,
    videos_per_day: tuple[int, int] = (0, 6),
    comments_per_video: tuple[int, int] = (0, 20),
    heavy_video_ratio: float = 0.03,
    heavy_comments: tuple[int, int] = (300, 700),
    reply_ratio: float = 0.2,
    comment_max_age_days: int = 45,
    malformed_ratio: float = 0.0,
    access_token_ttl: int = 86_400,
    refresh_token_ttl: int = 31_536_000,
    strict_rotation: bool = True,
    short_page_ratio: float = 0.1,
    deny_consent: bool = False,
    business_prefix: str = "/open_api/v1.3/",
) -> SandboxApp:
    """A ready `SandboxApp`: world, token authority and faults sharing one seed and clock."""
    world = SandboxWorld(
        seed,
        clock,
        history_days=history_days,
        videos_per_day=videos_per_day,
        comments_per_video=comments_per_video,
        heavy_video_ratio=heavy_video_ratio,
        heavy_comments=heavy_comments,
        reply_ratio=reply_ratio,
        comment_max_age_days=comment_max_age_days,
        malformed_ratio=malformed_ratio,
    )
    tokens = TokenAuthority(
        seed=seed,
        clock=world.clock,
        access_token_ttl=access_token_ttl,
        refresh_token_ttl=refresh_token_ttl,
        strict_rotation=strict_rotation,
    )
    return SandboxApp(
        world,
        tokens,
        faults,
        world.clock,
        short_page_ratio=short_page_ratio,
        deny_consent=deny_consent,
        business_prefix=business_prefix,
    )
