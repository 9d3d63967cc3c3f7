"""Specs of the metric-history tables: video snapshots, their breakdowns, account metrics.

``tiktok_videos`` holds a video once, in the partition of the day it was published, with
whatever metrics the last re-read saw. These tables keep the history instead: one row per
video per UTC day it was observed (``tiktok_video_metrics``), the audience and traffic
shares of that observation as typed child rows (``tiktok_video_breakdowns``), and one row
per account per day (``tiktok_account_metrics``). Created by migration
``0010_metrics_history``; pure, like :mod:`tiktok_etl.storage.tables`.
"""

from __future__ import annotations

from tiktok_etl.storage.tables import TableSpec, col

_ACCOUNT = col("account_key", "text", "the connected account (partition key)", nullable=False)
_OBSERVED_AT = col("observed_at", "timestamptz", "when the connector read these values",
                   nullable=False)  # fmt: skip

VIDEO_METRICS = TableSpec(
    name="tiktok_video_metrics",
    columns=(
        _ACCOUNT,
        col("date", "date", "the UTC day the snapshot was taken (partition key)",
            nullable=False),
        col("video_id", "text", "TikTok's video id", nullable=False),
        col("api", "text", "the API family: `display` or `business`", nullable=False),
        col("create_time", "timestamptz", "when the video was posted (UTC)", nullable=False),
        col("view_count", "bigint", "views so far"),
        col("like_count", "bigint", "likes so far"),
        col("comment_count", "bigint", "comments so far"),
        col("share_count", "bigint", "shares so far"),
        col("reach", "bigint", "unique viewers so far (Business API)"),
        col("full_video_watched_rate", "double precision",
            "share of views that watched to the end, 0 to 1 (Business API)"),
        col("total_time_watched", "double precision",
            "seconds watched over all views (Business API)"),
        col("average_time_watched", "double precision", "seconds watched per view (Business API)"),
        _OBSERVED_AT,
    ),
    key=("account_key", "video_id", "date"),
)  # fmt: skip

VIDEO_BREAKDOWNS = TableSpec(
    name="tiktok_video_breakdowns",
    columns=(
        _ACCOUNT,
        col("date", "date", "the UTC day of the snapshot the shares belong to (partition key)",
            nullable=False),
        col("video_id", "text", "TikTok's video id", nullable=False),
        col("dimension", "text", "`audience_countries` or `impression_sources`",
            nullable=False),
        col("key", "text", "a country code (`US`) or a traffic source (`For You`)",
            nullable=False),
        col("share", "double precision", "the key's share of the video's views, 0 to 1",
            nullable=False),
    ),
    key=("account_key", "date", "video_id", "dimension", "key"),
)  # fmt: skip

ACCOUNT_METRICS = TableSpec(
    name="tiktok_account_metrics",
    columns=(
        _ACCOUNT,
        col("date", "date", "the UTC day the values describe (partition key)", nullable=False),
        col("api", "text", "the API family: `display` or `business`", nullable=False),
        col("followers_count", "bigint", "followers at the end of the day (both families)"),
        col("following_count", "bigint", "accounts followed (Display API snapshot)"),
        col("likes_count", "bigint",
            "likes over all the account's videos so far (Display API snapshot)"),
        col("video_count", "bigint", "public videos (Display API snapshot)"),
        col("profile_views", "bigint", "profile views that day (Business API)"),
        col("video_views", "bigint", "video views that day (Business API)"),
        col("likes", "bigint", "likes received that day (Business API)"),
        col("comments", "bigint", "comments received that day (Business API)"),
        col("shares", "bigint", "shares that day (Business API)"),
        col("extra", "jsonb",
            "every other metric TikTok returned for the day, as sent (Business API)",
            nullable=False),
        _OBSERVED_AT,
    ),
    key=("account_key", "date"),
)  # fmt: skip

METRICS_TABLES: tuple[TableSpec, ...] = (VIDEO_METRICS, VIDEO_BREAKDOWNS, ACCOUNT_METRICS)


def markdown_tables() -> str:
    """The README's column tables (between ``<!-- metrics columns -->`` markers)."""
    lines: list[str] = []
    for spec in METRICS_TABLES:
        key = ", ".join(spec.key)
        lines += [
            f"`{spec.name}` (primary key `{key}`):",
            "",
            "| column | PostgreSQL | null | description |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{c.name}` | `{c.pg_type}` | {'yes' if c.nullable else 'no'} | {c.description} |"
            for c in spec.columns
        ]
        lines.append("")
    return "\n".join(lines)
