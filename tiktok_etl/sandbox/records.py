"""Sandbox records and how they render into TikTok's documented JSON shapes.

A record holds what never changes about a video, comment or account (ids, create time,
text, growth parameters). Metrics are derived from a record and "now", so they grow as the
clock moves and every process computes the same numbers. Rendering follows the fixture
files under `shared/fixtures/tiktok/`: Display `create_time` is int seconds, Business
`create_time` is a string of seconds, ids are strings.

Pure data and functions: no randomness, no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DAY = 86_400

DISPLAY_USER_FIELD_SCOPES: dict[str, str] = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic",
    "avatar_large_url": "user.info.basic",
    "display_name": "user.info.basic",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "username": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}
DISPLAY_USER_FIELDS = tuple(DISPLAY_USER_FIELD_SCOPES)

BUSINESS_ACCOUNT_DEFAULT_FIELDS = (
    "username",
    "display_name",
    "profile_image",
    "followers_count",
    "is_business_account",
)
BUSINESS_ACCOUNT_FIELDS = (*BUSINESS_ACCOUNT_DEFAULT_FIELDS, "metrics")

MALFORMED_KINDS = ("missing_id", "bad_create_time")
BAD_CREATE_TIME = "not-a-time"

_IMPRESSION_SOURCES = ("For You", "Follow", "Personal Profile", "Search", "Sound", "Hashtag")
_COUNTRIES = ("US", "GB", "DE", "SA", "JP", "CN", "BR", "FR", "MX", "ID")


@dataclass(frozen=True, slots=True)
class AccountRecord:
    open_id: str
    union_id: str
    username: str
    display_name: str
    bio_description: str
    avatar_key: str
    is_verified: bool
    base_followers: int
    followers_per_day: float
    following_count: int


@dataclass(frozen=True, slots=True)
class VideoRecord:
    open_id: str
    video_id: str
    create_time: int
    caption: str
    title: str
    duration: int
    width: int
    height: int
    view_potential: int
    like_rate: float
    share_rate: float
    reach_ratio: float
    watch_rate: float
    watch_fraction: float
    top_comments: int
    heavy: bool
    is_aigc: bool
    impression_mix: tuple[float, ...]
    country_mix: tuple[float, ...]
    malformed: str | None


@dataclass(frozen=True, slots=True)
class CommentRecord:
    comment_id: str
    video_id: str
    parent_comment_id: str | None
    create_time: int
    text: str
    username: str
    unique_identifier: str
    profile_image: str
    like_potential: int
    owner: bool
    liked: bool
    pinned: bool
    malformed: str | None


def maturity(age_seconds: int, half_life_seconds: float) -> float:
    """0 at publication, approaching 1: how far a record's engagement has grown."""
    if age_seconds <= 0:
        return 0.0
    return 1.0 - math.exp(-age_seconds / half_life_seconds)


def follower_count(account: AccountRecord, now: int) -> int:
    """Followers grow by a fixed amount per day since 2020-01-01 (a fixed anchor)."""
    days = max(0, now - 1_577_836_800) / DAY
    return account.base_followers + int(account.followers_per_day * days)


@dataclass(frozen=True, slots=True)
class VideoMetrics:
    views: int
    likes: int
    shares: int
    reach: int
    full_video_watched_rate: float
    average_time_watched: float
    total_time_watched: float


def video_metrics(video: VideoRecord, now: int) -> VideoMetrics:
    """Metrics at `now`: monotone in (now - create_time), fast early growth, a slow long tail."""
    age = now - video.create_time
    early = maturity(age, 2 * DAY)
    late = min(1.0, max(0, age) / (120 * DAY))
    views = int(video.view_potential * (0.9 * early + 0.1 * late))
    average = round(video.duration * video.watch_fraction * (0.9 + 0.1 * early), 2)
    return VideoMetrics(
        views=views,
        likes=int(views * video.like_rate),
        shares=int(views * video.share_rate),
        reach=int(views * video.reach_ratio),
        full_video_watched_rate=round(video.watch_rate * (0.8 + 0.2 * early), 4),
        average_time_watched=average if views else 0.0,
        total_time_watched=round(views * average, 1),
    )


def comment_likes(comment: CommentRecord, now: int) -> int:
    return int(comment.like_potential * maturity(now - comment.create_time, DAY))


def _share_url(username: str, video_id: str) -> str:
    return f"https://www.tiktok.com/@{username}/video/{video_id}"


def _select(record: dict[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    if fields is None:
        return record
    return {name: record[name] for name in fields if name in record}


def _mix(names: Sequence[str], weights: Iterable[float], key: str) -> list[dict[str, Any]]:
    return [
        {key: name, "percentage": weight}
        for name, weight in zip(names, weights, strict=False)
        if weight > 0
    ]


def _apply_malformation(
    record: dict[str, Any], kind: str | None, id_key: str, create_time_key: str = "create_time"
) -> dict[str, Any]:
    if kind == "missing_id":
        record.pop(id_key, None)
    elif kind == "bad_create_time" and create_time_key in record:
        record[create_time_key] = BAD_CREATE_TIME
    return record


@dataclass(frozen=True, slots=True)
class _VideoAt:
    """What a video's rendered fields are computed from: the video at one moment."""

    video: VideoRecord
    account: AccountRecord
    now: int
    comment_count: int
    metrics: VideoMetrics

    @property
    def share_url(self) -> str:
        return _share_url(self.account.username, self.video.video_id)


def _embed_html(v: _VideoAt) -> str:
    return (
        f'<blockquote class="tiktok-embed" cite="{v.share_url}" '
        f'data-video-id="{v.video.video_id}"><section></section></blockquote>'
    )


def _cover_image_url(v: _VideoAt) -> str:
    expires = v.now + 6 * 3600
    return f"https://p16-sign.tiktokcdn-us.com/obj/{v.video.video_id}.jpeg?x-expires={expires}"


# each API family's video object, one entry per field, in TikTok's documented order: the
# sandbox's field lists are these keys
_DISPLAY_VIDEO: dict[str, Callable[[_VideoAt], Any]] = {
    "id": lambda v: v.video.video_id,
    "create_time": lambda v: v.video.create_time,
    "cover_image_url": _cover_image_url,
    "share_url": lambda v: v.share_url,
    "video_description": lambda v: v.video.caption,
    "title": lambda v: v.video.title,
    "duration": lambda v: v.video.duration,
    "height": lambda v: v.video.height,
    "width": lambda v: v.video.width,
    "embed_html": _embed_html,
    "embed_link": lambda v: f"https://www.tiktok.com/player/v1/{v.video.video_id}",
    "like_count": lambda v: v.metrics.likes,
    "comment_count": lambda v: v.comment_count,
    "share_count": lambda v: v.metrics.shares,
    "view_count": lambda v: v.metrics.views,
    "is_aigc": lambda v: v.video.is_aigc,
}
DISPLAY_VIDEO_FIELDS = tuple(_DISPLAY_VIDEO)

_BUSINESS_VIDEO: dict[str, Callable[[_VideoAt], Any]] = {
    "item_id": lambda v: v.video.video_id,
    "create_time": lambda v: str(v.video.create_time),
    "thumbnail_url": lambda v: (
        f"https://p16-sign-sg.tiktokcdn.com/obj/{v.video.video_id}~thumb.jpeg"
    ),
    "share_url": lambda v: v.share_url,
    "embed_url": lambda v: f"https://www.tiktok.com/embed/v2/{v.video.video_id}",
    "caption": lambda v: v.video.caption,
    "video_views": lambda v: v.metrics.views,
    "video_duration": lambda v: float(v.video.duration),
    "likes": lambda v: v.metrics.likes,
    "comments": lambda v: v.comment_count,
    "shares": lambda v: v.metrics.shares,
    "reach": lambda v: v.metrics.reach,
    "full_video_watched_rate": lambda v: v.metrics.full_video_watched_rate,
    "total_time_watched": lambda v: v.metrics.total_time_watched,
    "average_time_watched": lambda v: v.metrics.average_time_watched,
    "impression_sources": lambda v: _mix(
        _IMPRESSION_SOURCES, v.video.impression_mix, "impression_source"
    ),
    "audience_countries": lambda v: _mix(_COUNTRIES, v.video.country_mix, "country"),
}
BUSINESS_VIDEO_FIELDS = tuple(_BUSINESS_VIDEO)
# the audience breakdowns come only when asked for by name
BUSINESS_VIDEO_DEFAULT_FIELDS = tuple(
    name
    for name in BUSINESS_VIDEO_FIELDS
    if name not in ("impression_sources", "audience_countries")
)


def _render(
    renderers: Mapping[str, Callable[[_VideoAt], Any]], video: _VideoAt, fields: Sequence[str]
) -> dict[str, Any]:
    return {name: renderers[name](video) for name in fields if name in renderers}


def display_video(
    video: VideoRecord,
    account: AccountRecord,
    now: int,
    comment_count: int,
    fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The Display API video object (`/v2/video/list/`, `/v2/video/query/`)."""
    at = _VideoAt(video, account, now, comment_count, video_metrics(video, now))
    record = _render(_DISPLAY_VIDEO, at, DISPLAY_VIDEO_FIELDS if fields is None else fields)
    return _apply_malformation(record, video.malformed, "id")


def business_video(
    video: VideoRecord,
    account: AccountRecord,
    now: int,
    comment_count: int,
    fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The Business API video object (`business/video/list/`); `create_time` is a string."""
    at = _VideoAt(video, account, now, comment_count, video_metrics(video, now))
    selected = fields if fields is not None else BUSINESS_VIDEO_DEFAULT_FIELDS
    return _apply_malformation(_render(_BUSINESS_VIDEO, at, selected), video.malformed, "item_id")


def business_comment(comment: CommentRecord, now: int, replies: int) -> dict[str, Any]:
    """The Business API comment object; replies carry `parent_comment_id` and no `replies`.

    Key sets follow `business_comment_list.json` and `business_reply_list.json`; replies also
    carry `unique_identifier`, which the contract says replaces the deprecated `user_id`.
    """
    record: dict[str, Any] = {
        "comment_id": comment.comment_id,
        "video_id": comment.video_id,
        "user_id": comment.unique_identifier,
        "unique_identifier": comment.unique_identifier,
        "create_time": str(comment.create_time),
        "text": comment.text,
        "likes": comment_likes(comment, now),
        "owner": comment.owner,
        "liked": comment.liked,
        "status": "PUBLIC",
        "username": comment.username,
        "profile_image": comment.profile_image,
    }
    if comment.parent_comment_id is None:
        record["replies"] = replies
        record["pinned"] = comment.pinned
    else:
        record["parent_comment_id"] = comment.parent_comment_id
    return _apply_malformation(record, comment.malformed, "comment_id")


def avatar_url(account: AccountRecord, size: int = 168) -> str:
    return (
        "https://p16-sign.tiktokcdn-us.com/tos-useast5-avt-0068-tx/"
        f"{account.avatar_key}~c5_{size}x{size}.jpeg"
    )


def display_user(
    account: AccountRecord,
    now: int,
    likes_count: int,
    video_count: int,
    fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The Display API `data.user` object; only the requested fields are returned."""
    record: dict[str, Any] = {
        "open_id": account.open_id,
        "union_id": account.union_id,
        "avatar_url": avatar_url(account),
        "avatar_url_100": avatar_url(account, 100),
        "avatar_large_url": avatar_url(account, 1080),
        "display_name": account.display_name,
        "bio_description": account.bio_description,
        "profile_deep_link": f"https://vm.tiktok.com/{account.avatar_key[:10]}/",
        "is_verified": account.is_verified,
        "username": account.username,
        "follower_count": follower_count(account, now),
        "following_count": account.following_count,
        "likes_count": likes_count,
        "video_count": video_count,
    }
    return _select(record, fields)


def business_account(
    account: AccountRecord,
    now: int,
    metrics: list[dict[str, Any]] | None,
    fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The Business API `business/get/` data object."""
    record: dict[str, Any] = {
        "username": account.username,
        "display_name": account.display_name,
        "profile_image": avatar_url(account),
        "followers_count": follower_count(account, now),
        "is_business_account": True,
    }
    if metrics is not None:
        record["metrics"] = metrics
    return _select(record, fields if fields is not None else BUSINESS_ACCOUNT_DEFAULT_FIELDS)
