"""Typed API records -> rows of the raw tables (users, videos, comments).

The two API families name the same facts differently. Video columns name their source
attribute per family in the table spec (:data:`tiktok_etl.storage.tables.VIDEOS`), so video
rows follow the spec; users and comments are mapped here. Every row keeps the record's
original payload in ``raw``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tiktok_etl.api import BusinessComment, BusinessUser, BusinessVideo, DisplayUser, DisplayVideo
from tiktok_etl.storage.tables import VIDEOS, ApiFamily

Row = dict[str, Any]


def _base(account_key: str, day: date, fetched_at: datetime) -> Row:
    return {"account_key": account_key, "date": day, "fetched_at": fetched_at}


def display_user_row(
    account_key: str, day: date, user: DisplayUser, fetched_at: datetime, open_id: str
) -> Row:
    return _base(account_key, day, fetched_at) | {
        "api": "display",
        "open_id": user.open_id or open_id,
        "username": user.username,
        "display_name": user.display_name,
        "avatar_url": user.avatar_url,
        "bio_description": user.bio_description,
        "is_verified": user.is_verified,
        "follower_count": user.follower_count,
        "following_count": user.following_count,
        "likes_count": user.likes_count,
        "video_count": user.video_count,
        "raw": user.raw,
    }


def business_user_row(
    account_key: str, day: date, user: BusinessUser, fetched_at: datetime, open_id: str
) -> Row:
    return _base(account_key, day, fetched_at) | {
        "api": "business",
        "open_id": open_id,
        "username": user.username,
        "display_name": user.display_name,
        "avatar_url": user.profile_image,
        "bio_description": None,
        "is_verified": None,
        "follower_count": user.followers_count,
        "following_count": None,
        "likes_count": None,
        "video_count": None,
        "raw": user.raw,
    }


def _video_row(
    api: ApiFamily,
    account_key: str,
    day: date,
    video: DisplayVideo | BusinessVideo,
    fetched_at: datetime,
) -> Row:
    """A ``tiktok_videos`` row: each column from the attribute its spec names for ``api``
    (null when that API family has none); ``double precision`` values become floats."""
    row = _base(account_key, day, fetched_at) | {"api": api}
    for column in VIDEOS.columns:
        if column.name in row or column.name == "raw":
            continue
        attribute = column.sources.get(api)
        value = None if attribute is None else getattr(video, attribute)
        if value is not None and column.pg_type == "double precision":
            value = float(value)
        row[column.name] = value
    row["raw"] = video.raw
    return row


def display_video_row(
    account_key: str, day: date, video: DisplayVideo, fetched_at: datetime
) -> Row:
    return _video_row("display", account_key, day, video, fetched_at)


def business_video_row(
    account_key: str, day: date, video: BusinessVideo, fetched_at: datetime
) -> Row:
    return _video_row("business", account_key, day, video, fetched_at)


def comment_row(account_key: str, day: date, comment: BusinessComment, fetched_at: datetime) -> Row:
    return _base(account_key, day, fetched_at) | {
        "comment_id": comment.comment_id,
        "video_id": comment.video_id,
        "parent_comment_id": comment.parent_comment_id or None,
        "create_time": comment.create_time,
        "text": comment.text,
        "like_count": comment.likes,
        "reply_count": comment.replies,
        "username": comment.username,
        "unique_identifier": comment.unique_identifier,
        "profile_image": comment.profile_image,
        "status": comment.status,
        "owner": comment.owner,
        "pinned": comment.pinned,
        "raw": comment.raw,
    }
