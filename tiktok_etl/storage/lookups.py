"""Small read queries over the raw tables that other layers need."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa


def video_share_urls(
    engine: sa.Engine, account_key: str, video_ids: Collection[str]
) -> dict[str, str]:
    """The latest known ``share_url`` of each video. A comment's video may be years old and
    its own partition never materialized, so the links the comment reader records for every
    listed video come first, then any partition of ``tiktok_videos``."""
    if not video_ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT DISTINCT ON (video_id) video_id, share_url FROM ("
                " SELECT video_id, share_url, seen_at AS at, 0 AS rank FROM tiktok_video_links"
                " WHERE account_key = :a AND video_id = ANY(:ids)"
                " UNION ALL"
                " SELECT video_id, share_url, fetched_at, 1 FROM tiktok_videos"
                " WHERE account_key = :a AND video_id = ANY(:ids) AND share_url IS NOT NULL"
                ") known ORDER BY video_id, rank, at DESC"
            ),
            {"a": account_key, "ids": list(video_ids)},
        )
        return {r.video_id: r.share_url for r in rows}
