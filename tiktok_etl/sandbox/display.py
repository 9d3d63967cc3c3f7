"""Display API v2 routes: user info, video list (time cursor) and video query.

Video list semantics: newest first; `cursor` is Unix milliseconds and the page holds videos
with `create_time * 1000 < cursor` (strictly before); the response `cursor` is the oldest
returned video's time in milliseconds and `has_more` says whether older visible videos
exist. Without a cursor the list starts at "now". Some pages are deliberately short
(`short_page_ratio`, seeded by the request) while `has_more` stays true, as TikTok does.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import httpx

from tiktok_etl.sandbox import records
from tiktok_etl.sandbox.context import RequestContext, Route, Style
from tiktok_etl.sandbox.records import (
    DISPLAY_USER_FIELD_SCOPES,
    DISPLAY_USER_FIELDS,
    DISPLAY_VIDEO_FIELDS,
    VideoRecord,
)
from tiktok_etl.sandbox.tokens import AccessClaims
from tiktok_etl.sandbox.world import stable_int

VIDEO_PAGE_LIMIT = 20
VIDEO_PAGE_DEFAULT = 10
VIDEO_QUERY_LIMIT = 20
_STATS_FIELDS = {"likes_count", "video_count"}


def _fields(ctx: RequestContext, allowed: tuple[str, ...]) -> list[str]:
    raw = ctx.required_query("fields")
    return ctx.field_list([item.strip() for item in raw.split(",") if item.strip()], allowed)


def _require_video_scope(ctx: RequestContext, claims: AccessClaims) -> None:
    if "video.list" not in claims.scopes:
        raise ctx.fail("forbidden", "The user did not authorize the scope required: video.list.")


def _render(
    ctx: RequestContext, claims: AccessClaims, videos: list[VideoRecord], fields: list[str]
) -> list[dict[str, Any]]:
    world = ctx.services.world
    account = world.account(claims.open_id)
    counting = "comment_count" in fields
    return [
        records.display_video(
            video,
            account,
            ctx.now,
            world.comment_count(video, ctx.now) if counting else 0,
            fields,
        )
        for video in videos
    ]


def user_info(ctx: RequestContext) -> httpx.Response:
    claims = ctx.authenticate()
    fields = _fields(ctx, DISPLAY_USER_FIELDS)
    missing = sorted({DISPLAY_USER_FIELD_SCOPES[name] for name in fields} - set(claims.scopes))
    if missing:
        raise ctx.fail(
            "scope_missing", f"The fields requested need scopes not granted: {', '.join(missing)}."
        )
    world = ctx.services.world
    likes, count = (
        world.user_stats(claims.open_id, ctx.now) if _STATS_FIELDS & set(fields) else (0, 0)
    )
    user = records.display_user(world.account(claims.open_id), ctx.now, likes, count, fields)
    return ctx.ok({"user": user})


def _page_size(ctx: RequestContext, open_id: str, cursor: int | None, max_count: int) -> int:
    ratio = ctx.services.short_page_ratio
    rng = random.Random(
        stable_int(ctx.services.world.seed, "short-page", open_id, cursor, max_count)
    )
    if max_count > 1 and rng.random() < ratio:
        return rng.randint(1, max_count - 1)
    return max_count


def video_list(ctx: RequestContext) -> httpx.Response:
    claims = ctx.authenticate()
    _require_video_scope(ctx, claims)
    fields = _fields(ctx, DISPLAY_VIDEO_FIELDS)
    body = ctx.json_body()
    max_count = ctx.integer(
        body.get("max_count"), "max_count", VIDEO_PAGE_DEFAULT, low=1, high=VIDEO_PAGE_LIMIT
    )
    raw_cursor = body.get("cursor")
    cursor = None if raw_cursor in (None, "") else ctx.integer(raw_cursor, "cursor", 0)
    # strictly before the cursor: create_time * 1000 < cursor <=> create_time < ceil(cursor / 1000)
    before = ctx.now + 1 if cursor is None else -(-cursor // 1000)
    size = _page_size(ctx, claims.open_id, cursor, max_count)
    found = list(
        itertools.islice(
            ctx.services.world.iter_videos_desc(claims.open_id, before, ctx.now), size + 1
        )
    )
    page = found[:size]
    next_cursor = (
        page[-1].create_time * 1000 if page else (cursor if cursor is not None else ctx.now_ms)
    )
    return ctx.ok(
        {
            "videos": _render(ctx, claims, page, fields),
            "cursor": next_cursor,
            "has_more": len(found) > size,
        }
    )


def video_query(ctx: RequestContext) -> httpx.Response:
    claims = ctx.authenticate()
    _require_video_scope(ctx, claims)
    fields = _fields(ctx, DISPLAY_VIDEO_FIELDS)
    filters = ctx.json_body().get("filters")
    video_ids = filters.get("video_ids") if isinstance(filters, dict) else None
    if (
        not isinstance(video_ids, list)
        or not 1 <= len(video_ids) <= VIDEO_QUERY_LIMIT
        or not all(isinstance(item, str) for item in video_ids)
    ):
        raise ctx.fail(
            "invalid_params", f"filters.video_ids must list 1 to {VIDEO_QUERY_LIMIT} string ids."
        )
    world = ctx.services.world
    found = [
        video
        for video_id in dict.fromkeys(video_ids)
        if (video := world.find_video(claims.open_id, video_id, ctx.now)) is not None
    ]
    return ctx.ok({"videos": _render(ctx, claims, found, fields)})


def routes() -> list[Route]:
    return [
        Route("GET", "/v2/user/info/", Style.DISPLAY, user_info),
        Route("POST", "/v2/video/list/", Style.DISPLAY, video_list),
        Route("POST", "/v2/video/query/", Style.DISPLAY, video_query),
    ]
