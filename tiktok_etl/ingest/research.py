"""Fetch-and-shape for a listening query's day: its public videos, then their top comments.

A partition is ``query x UTC day``: the videos TikTok's video query returns for that day
(``start_date = end_date = day``), kept only when their ``create_time`` really falls in the
day, and the top comments of those videos (``TIKTOK_ETL_RESEARCH_COMMENTS_PER_VIDEO`` each,
only for videos that report comments). Malformed records come back as rejects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from tiktok_etl.api.research import ResearchClient, ResearchComment, ResearchVideo
from tiktok_etl.api.research_query import parse_query
from tiktok_etl.ingest.fetched import FetchOutcome
from tiktok_etl.storage.research import StoredQuery


def video_row(query: StoredQuery, day: date, video: ResearchVideo, now: datetime) -> dict[str, Any]:
    return {
        "account_key": query.storage_key,
        "date": day,
        "query_key": query.query_key,
        "video_id": video.id,
        "create_time": video.create_time,
        "username": video.username,
        "region_code": video.region_code,
        "description": video.video_description,
        "hashtag_names": list(video.hashtag_names),
        "like_count": video.like_count,
        "comment_count": video.comment_count,
        "share_count": video.share_count,
        "view_count": video.view_count,
        "duration": video.video_duration,
        "fetched_at": now,
        "raw": video.raw,
    }


def comment_row(
    query: StoredQuery, day: date, comment: ResearchComment, now: datetime
) -> dict[str, Any]:
    return {
        "account_key": query.storage_key,
        "date": day,
        "query_key": query.query_key,
        "comment_id": comment.id,
        "video_id": comment.video_id,
        "parent_comment_id": comment.parent_comment_id,
        "create_time": comment.create_time,
        "text": comment.text,
        "like_count": comment.like_count,
        "reply_count": comment.reply_count,
        "fetched_at": now,
        "raw": comment.raw,
    }


def fetch_query_videos(
    client: ResearchClient, query: StoredQuery, day: date, now: datetime
) -> FetchOutcome:
    """The day's public videos matching the query."""
    parsed = parse_query(query.query_text, query.regions)
    result = client.videos(parsed.to_tiktok(), day, day)
    rows = [
        video_row(query, day, video, now)
        for video in result.items
        if video.create_time.date() == day
    ]
    outside = len(result.items) - len(rows)
    return FetchOutcome(
        rows=rows,
        rejects=result.rejects,
        notes={"videos_found": len(rows), "outside_day": outside, "pages": result.pages},
    )


def fetch_query_comments(
    client: ResearchClient,
    query: StoredQuery,
    day: date,
    videos: Sequence[dict[str, Any]],
    per_video: int,
    now: datetime,
) -> FetchOutcome:
    """The top ``per_video`` comments of each stored video that reports any comments."""
    outcome = FetchOutcome()
    read = 0
    seen: set[str] = set()
    for video in videos:
        if not video.get("comment_count"):
            continue
        result = client.comments(str(video["video_id"]), per_video)
        read += 1
        outcome.rejects.extend(result.rejects)
        for comment in result.items:
            if comment.id in seen:
                continue  # a comment listed twice stays one row
            seen.add(comment.id)
            outcome.rows.append(comment_row(query, day, comment, now))
    outcome.notes = {"videos_with_comments_read": read, "comments": len(outcome.rows)}
    return outcome
