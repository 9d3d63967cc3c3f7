"""Raw-table rows built from the documented TikTok payloads through the real pipeline code,
and a helper that makes mention rows for store tests."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from tiktok_etl.api import BusinessComment, BusinessUser, BusinessVideo, DisplayUser, DisplayVideo
from tiktok_etl.ingest import rows
from tiktok_etl.mentions import KeywordMatcher, MentionSource, normalize_video

FIXTURES = Path(__file__).resolve().parents[1] / "api" / "fixtures"
FETCHED_AT = datetime(2026, 11, 6, 8, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)
ACCOUNT = MentionSource(
    account_key="acme", tenant_id=123, source_id="uuid-source-123", keywords=("acme",)
)


def payload(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _day(created: datetime) -> date:
    return created.astimezone(UTC).date()


def display_user_row() -> dict[str, Any]:
    user = DisplayUser.from_payload(payload("display_user_info.json")["data"]["user"])
    return rows.display_user_row("acme", date(2022, 3, 28), user, FETCHED_AT, user.open_id)


def business_user_row() -> dict[str, Any]:
    user = BusinessUser.from_payload(
        {"username": "brand", "display_name": "Brand Name", "followers_count": 50000},
        business_id="biz-1",
    )
    return rows.business_user_row("acme", date(2022, 6, 14), user, FETCHED_AT, "biz-1")


def display_video_rows() -> list[dict[str, Any]]:
    videos = payload("display_video_list.json")["data"]["videos"]
    out = []
    for video_payload in videos:
        video = DisplayVideo.from_payload(video_payload)
        out.append(rows.display_video_row("acme", _day(video.create_time), video, FETCHED_AT))
    return out


def business_video_row() -> dict[str, Any]:
    video = BusinessVideo.from_payload(payload("business_video_list.json")["data"]["videos"][0])
    return rows.business_video_row("acme", _day(video.create_time), video, FETCHED_AT)


def business_comment_rows() -> list[dict[str, Any]]:
    comments = payload("business_comment_list.json")["data"]["comments"]
    out = []
    for comment_payload in comments:
        comment = BusinessComment.from_payload(comment_payload)
        out.append(rows.comment_row("acme", _day(comment.create_time), comment, FETCHED_AT))
    return out


def business_reply_row() -> dict[str, Any]:
    reply = BusinessComment.from_payload(payload("business_reply_list.json")["data"]["comments"][0])
    return rows.comment_row("acme", _day(reply.create_time), reply, FETCHED_AT)


DAY = date(2026, 11, 5)


def mention(
    external_id: str,
    *,
    account_key: str = "acme",
    day: date = DAY,
    likes: int = 10,
    views: int = 1000,
    content: str = "acme video",
    keywords: tuple[str, ...] = ("acme",),
    **overrides: Any,
) -> dict[str, Any]:
    """A normalized video mention of partition ``account_key|day``."""
    source = MentionSource(account_key=account_key, tenant_id=123, source_id="src-1")
    raw_row = {
        "account_key": account_key,
        "date": day,
        "api": "display",
        "video_id": external_id,
        "create_time": datetime.combine(day, time(12, 0), tzinfo=UTC),
        "description": content,
        "title": None,
        "share_url": f"https://www.tiktok.com/@acme/video/{external_id}",
        "cover_image_url": f"https://p16.example/{external_id}.jpeg",
        "duration": 15.0,
        "width": 1080,
        "height": 1920,
        "like_count": likes,
        "comment_count": 2,
        "share_count": 1,
        "view_count": views,
        "raw": {"id": external_id, "like_count": likes},
    }
    user = {"api": "display", "username": "acme", "display_name": "Acme",
            "follower_count": 5000, "is_verified": True}  # fmt: skip
    row = normalize_video(source, user, raw_row, KeywordMatcher(keywords), now=NOW)
    row.update(overrides)
    return row
