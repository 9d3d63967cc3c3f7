"""Rows of the raw tables for storage tests, valid unless a test overrides a field."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

DAY = date(2026, 11, 5)
FETCHED_AT = datetime(2026, 11, 6, 8, 30, tzinfo=UTC)


def video_row(
    video_id: str, account_key: str = "acme", day: date = DAY, **overrides: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account_key": account_key,
        "date": day,
        "api": "display",
        "video_id": video_id,
        "create_time": datetime.combine(day, time(12, 0), tzinfo=UTC),
        "description": f"video {video_id}",
        "title": None,
        "share_url": f"https://www.tiktok.com/@acme/video/{video_id}",
        "duration": 15.5,
        "width": 1080,
        "height": 1920,
        "like_count": 10,
        "comment_count": 2,
        "share_count": 1,
        "view_count": 1000,
        "fetched_at": FETCHED_AT,
        "raw": {"id": video_id, "like_count": 10},
    }
    row.update(overrides)
    return row


def comment_row(
    comment_id: str, account_key: str = "acme", day: date = DAY, **overrides: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account_key": account_key,
        "date": day,
        "comment_id": comment_id,
        "video_id": "v1",
        "parent_comment_id": None,
        "create_time": datetime.combine(day, time(13, 0), tzinfo=UTC),
        "text": f"comment {comment_id}",
        "like_count": 0,
        "reply_count": 0,
        "username": "someone",
        "owner": False,
        "pinned": False,
        "fetched_at": FETCHED_AT,
        "raw": {"comment_id": comment_id},
    }
    row.update(overrides)
    return row


def user_row(account_key: str = "acme", day: date = DAY, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account_key": account_key,
        "date": day,
        "api": "display",
        "open_id": "open-1",
        "username": "acme",
        "display_name": "Acme",
        "is_verified": True,
        "follower_count": 12345,
        "fetched_at": FETCHED_AT,
        "raw": {"open_id": "open-1"},
    }
    row.update(overrides)
    return row


# text PostgreSQL and Parquet must both keep exactly (NUL aside, see AWKWARD_WITH_NUL)
AWKWARD_TEXTS = [
    "emoji 😀🎉👩‍👩‍👧 ok",
    "عربي: مرحبا بالعالم",
    "日本語のコメント、テスト。",
    "quotes ' \" `back` and ''double''",
    "new\nline and\r\nwindows",
    "tab\tseparated\tvalues",
    "back\\slash \\N \\. \\\\",
    "comma, semicolon; pipe |",
    "",
    " leading and trailing ",
]
