"""Business (Accounts) API v1.3 routes: account, videos, comments, replies, comment writes
(create, reply, delete, hide/unhide).

Paths are relative to the Business prefix (default `/open_api/v1.3/`). Every call takes
`business_id`, which must be the token's `open_id`. Lists page by integer offset `cursor`;
the response `cursor` is the offset of the next page. `max_count` above the documented
maximum (20 videos, 30 comments) is a parameter error (`40002`), not silently capped.
Comment writes change this process's in-memory world only.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from tiktok_etl.sandbox import records
from tiktok_etl.sandbox.context import OffsetPaging, RequestContext, Route, Style
from tiktok_etl.sandbox.records import (
    BUSINESS_ACCOUNT_FIELDS,
    BUSINESS_VIDEO_FIELDS,
    CommentRecord,
    VideoRecord,
)
from tiktok_etl.sandbox.tokens import AccessClaims

VIDEO_PAGE_LIMIT = 20
COMMENT_PAGE_LIMIT = 30
COMMENT_PAGE_DEFAULT = 20
COMMENT_TEXT_LIMIT = 150
SORT_FIELDS = ("create_time", "likes", "replies")
SORT_ORDERS = ("asc", "desc")
STATUSES = ("PUBLIC", "ALL")
HIDE_ACTIONS = ("HIDE", "UNHIDE")


def _account(ctx: RequestContext, source: dict[str, Any] | None = None) -> AccessClaims:
    """Authenticate and check that `business_id` (query, or `source` body) is the token's."""
    claims = ctx.authenticate()
    business_id = source.get("business_id") if source is not None else ctx.query("business_id")
    if not business_id:
        raise ctx.fail("invalid_params", "business_id is required.")
    if business_id != claims.open_id:
        raise ctx.fail("forbidden", "The access token has no permission for this business_id.")
    return claims


def _fields(ctx: RequestContext, allowed: tuple[str, ...]) -> list[str] | None:
    requested = ctx.json_list_query("fields")
    if requested is None:
        return None
    return ctx.field_list([str(item) for item in requested], allowed)


def _video(ctx: RequestContext, claims: AccessClaims, video_id: Any) -> VideoRecord:
    if not video_id:
        raise ctx.fail("invalid_params", "video_id is required.")
    video = ctx.services.world.find_video(claims.open_id, str(video_id), ctx.now)
    if video is None:
        raise ctx.fail("not_found", f"Video {video_id} does not exist for this business_id.")
    return video


def _top_comment(ctx: RequestContext, video: VideoRecord, comment_id: Any) -> CommentRecord:
    if not comment_id:
        raise ctx.fail("invalid_params", "comment_id is required.")
    for comment in ctx.services.world.visible_comments(video, ctx.now):
        if comment.comment_id == str(comment_id) and comment.parent_comment_id is None:
            return comment
    raise ctx.fail("not_found", f"Comment {comment_id} does not exist on video {video.video_id}.")


def business_get(ctx: RequestContext) -> httpx.Response:
    claims = _account(ctx)
    fields = _fields(ctx, BUSINESS_ACCOUNT_FIELDS)
    world = ctx.services.world
    metrics = None
    if fields and "metrics" in fields:
        start, end = _day_param(ctx, "start_date"), _day_param(ctx, "end_date")
        if start is not None and end is not None and end < start:
            raise ctx.fail("invalid_params", "end_date must not be before start_date.")
        metrics = world.daily_metrics(claims.open_id, ctx.now, start=start, end=end)
    return ctx.ok(records.business_account(world.account(claims.open_id), ctx.now, metrics, fields))


def _day_param(ctx: RequestContext, name: str) -> date | None:
    """`start_date` / `end_date` as `YYYY-MM-DD`, or None when absent."""
    raw = ctx.query(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ctx.fail("invalid_params", f"{name} must be YYYY-MM-DD.") from None


def video_list(ctx: RequestContext) -> httpx.Response:
    claims = _account(ctx)
    fields = _fields(ctx, BUSINESS_VIDEO_FIELDS)
    paging = OffsetPaging.parse(ctx, VIDEO_PAGE_LIMIT, VIDEO_PAGE_LIMIT)
    world = ctx.services.world
    filters = _filters(ctx)
    if filters is not None:
        videos = [
            video
            for video_id in dict.fromkeys(filters)
            if (video := world.find_video(claims.open_id, video_id, ctx.now)) is not None
        ]
    else:
        videos = list(world.iter_videos_desc(claims.open_id, ctx.now + 1, ctx.now))
    page, position = paging.page(videos)
    account = world.account(claims.open_id)
    counting = fields is None or "comments" in fields
    rendered = [
        records.business_video(
            video, account, ctx.now, world.comment_count(video, ctx.now) if counting else 0, fields
        )
        for video in page
    ]
    return ctx.ok({"videos": rendered, **position})


def _filters(ctx: RequestContext) -> list[str] | None:
    """`filters={"video_ids": [...]}` (a JSON object in the query string), or None."""
    raw = ctx.query("filters")
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    ids = value.get("video_ids") if isinstance(value, dict) else None
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise ctx.fail("invalid_params", 'filters must be {"video_ids": [string, ...]}.')
    return ids


@dataclass(frozen=True)
class CommentQuery:
    """The listing options of `comment/list/` and `comment/reply/list/`, validated up front."""

    sort_field: str
    sort_order: str
    paging: OffsetPaging
    status: str = "PUBLIC"

    @classmethod
    def parse(cls, ctx: RequestContext) -> CommentQuery:
        return cls(
            status=ctx.choice(ctx.query("status"), "status", STATUSES, "PUBLIC"),
            sort_field=ctx.choice(
                ctx.query("sort_field"), "sort_field", SORT_FIELDS, "create_time"
            ),
            sort_order=ctx.choice(ctx.query("sort_order"), "sort_order", SORT_ORDERS, "desc"),
            paging=OffsetPaging.parse(ctx, COMMENT_PAGE_LIMIT, COMMENT_PAGE_DEFAULT),
        )

    def respond(
        self, ctx: RequestContext, video: VideoRecord, comments: list[CommentRecord]
    ) -> httpx.Response:
        world = ctx.services.world
        replies = Counter(
            comment.parent_comment_id
            for comment in world.visible_comments(video, ctx.now)
            if comment.parent_comment_id
        )
        keys: dict[str, Callable[[CommentRecord], int]] = {
            "create_time": lambda comment: comment.create_time,
            "likes": lambda comment: records.comment_likes(comment, ctx.now),
            "replies": lambda comment: replies[comment.comment_id],
        }
        key = keys[self.sort_field]
        if self.status == "PUBLIC":
            comments = [c for c in comments if not world.is_hidden(c.comment_id)]
        ordered = sorted(
            comments,
            key=lambda comment: (key(comment), comment.create_time, comment.comment_id),
            reverse=self.sort_order == "desc",
        )
        page, position = self.paging.page(ordered)
        return ctx.ok({"comments": world.render_comments(video, page, ctx.now), **position})


def comment_list(ctx: RequestContext) -> httpx.Response:
    claims = _account(ctx)
    query = CommentQuery.parse(ctx)
    video = _video(ctx, claims, ctx.query("video_id"))
    include_replies = (ctx.query("include_replies") or "").lower() in ("true", "1")
    comments = [
        comment
        for comment in ctx.services.world.visible_comments(video, ctx.now)
        if include_replies or comment.parent_comment_id is None
    ]
    return query.respond(ctx, video, comments)


def reply_list(ctx: RequestContext) -> httpx.Response:
    claims = _account(ctx)
    query = CommentQuery.parse(ctx)
    video = _video(ctx, claims, ctx.query("video_id"))
    parent = _top_comment(ctx, video, ctx.query("comment_id"))
    replies = [
        comment
        for comment in ctx.services.world.visible_comments(video, ctx.now)
        if comment.parent_comment_id == parent.comment_id
    ]
    return query.respond(ctx, video, replies)


def _text(ctx: RequestContext, body: dict[str, Any]) -> str:
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > COMMENT_TEXT_LIMIT:
        raise ctx.fail("invalid_params", f"text must be 1 to {COMMENT_TEXT_LIMIT} characters.")
    return text


def _created(ctx: RequestContext, video: VideoRecord, comment: CommentRecord) -> httpx.Response:
    return ctx.ok(ctx.services.world.render_comments(video, [comment], ctx.now)[0])


def comment_create(ctx: RequestContext) -> httpx.Response:
    body = ctx.json_body()
    claims = _account(ctx, body)
    video = _video(ctx, claims, body.get("video_id"))
    comment = ctx.services.world.create_comment(video, _text(ctx, body), ctx.now)
    return _created(ctx, video, comment)


def reply_create(ctx: RequestContext) -> httpx.Response:
    body = ctx.json_body()
    claims = _account(ctx, body)
    video = _video(ctx, claims, body.get("video_id"))
    parent = _top_comment(ctx, video, body.get("comment_id"))
    reply = ctx.services.world.create_comment(video, _text(ctx, body), ctx.now, parent)
    return _created(ctx, video, reply)


def comment_delete(ctx: RequestContext) -> httpx.Response:
    body = ctx.json_body()
    claims = _account(ctx, body)
    comment_id = body.get("comment_id")
    if not comment_id:
        raise ctx.fail("invalid_params", "comment_id is required.")
    world = ctx.services.world
    found = world.find_comment(claims.open_id, str(comment_id), ctx.now)
    if found is None:
        raise ctx.fail("not_found", f"Comment {comment_id} does not exist for this business_id.")
    world.delete_comment(*found)
    return ctx.ok({})


def comment_hide(ctx: RequestContext) -> httpx.Response:
    """`{business_id, video_id, comment_id, action: HIDE|UNHIDE}`; setting a state, so
    repeating it changes nothing."""
    body = ctx.json_body()
    claims = _account(ctx, body)
    video = _video(ctx, claims, body.get("video_id"))
    action = body.get("action")
    if action not in HIDE_ACTIONS:
        raise ctx.fail("invalid_params", "action must be HIDE or UNHIDE.")
    comment_id = str(body.get("comment_id") or "")
    world = ctx.services.world
    if not any(c.comment_id == comment_id for c in world.visible_comments(video, ctx.now)):
        raise ctx.fail(
            "not_found", f"Comment {comment_id} does not exist on video {video.video_id}."
        )
    world.set_hidden(comment_id, action == "HIDE")
    return ctx.ok({})


def routes(prefix: str) -> list[Route]:
    table: list[tuple[str, str, Callable[[RequestContext], httpx.Response]]] = [
        ("GET", "business/get/", business_get),
        ("GET", "business/video/list/", video_list),
        ("GET", "business/comment/list/", comment_list),
        ("GET", "business/comment/reply/list/", reply_list),
        ("POST", "business/comment/create/", comment_create),
        ("POST", "business/comment/reply/create/", reply_create),
        ("POST", "business/comment/delete/", comment_delete),
        ("POST", "business/comment/hide/", comment_hide),
    ]
    return [
        Route(method, prefix + path, Style.BUSINESS, handler) for method, path, handler in table
    ]
