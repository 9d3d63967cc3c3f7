"""Typed API records -> rows of the raw tables (users, videos, comments).

The two API families name the same facts differently; this is the one place that maps
them onto shared column names. Every row keeps the record's original payload in ``raw``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tiktok_etl.api import BusinessComment, BusinessUser, BusinessVideo, DisplayUser, DisplayVideo

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


def display_video_row(
    account_key: str, day: date, video: DisplayVideo, fetched_at: datetime
) -> Row:
    return _base(account_key, day, fetched_at) | {
        "api": "display",
        "video_id": video.id,
        "create_time": video.create_time,
        "description": video.video_description,
        "title": video.title,
        "share_url": video.share_url,
        "cover_image_url": video.cover_image_url,
        "embed_url": video.embed_link,
        "duration": None if video.duration is None else float(video.duration),
        "width": video.width,
        "height": video.height,
        "like_count": video.like_count,
        "comment_count": video.comment_count,
        "share_count": video.share_count,
        "view_count": video.view_count,
        "reach": None,
        "full_video_watched_rate": None,
        "total_time_watched": None,
        "average_time_watched": None,
        "raw": video.raw,
    }


def business_video_row(
    account_key: str, day: date, video: BusinessVideo, fetched_at: datetime
) -> Row:
    return _base(account_key, day, fetched_at) | {
        "api": "business",
        "video_id": video.item_id,
        "create_time": video.create_time,
        "description": video.caption,
        "title": None,
        "share_url": video.share_url,
        "cover_image_url": video.thumbnail_url,
        "embed_url": video.embed_url,
        "duration": video.video_duration,
        "width": None,
        "height": None,
        "like_count": video.likes,
        "comment_count": video.comments,
        "share_count": video.shares,
        "view_count": video.video_views,
        "reach": video.reach,
        "full_video_watched_rate": video.full_video_watched_rate,
        "total_time_watched": video.total_time_watched,
        "average_time_watched": video.average_time_watched,
        "raw": video.raw,
    }


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
