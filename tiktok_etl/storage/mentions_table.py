"""The ``sl_mentions`` table spec: its columns, in the shared :class:`Column` type.

Declared here, beside the raw tables' specs, so the storage layer never imports upward;
:mod:`tiktok_etl.mentions.schema` re-exports it with the Arrow building and the README table.

Columns have an owner. ``connector`` columns are what normalization produces and what a
re-ingestion refreshes; ``workflow`` columns (``status``) belong to a downstream triage
workflow and are only ever set on first insert; ``store`` columns are bookkeeping the
store maintains (``ingested_at``, ``updated_at``, ``deleted_at``); ``key`` columns identify
a mention. The seed's columns keep the seed's order; the columns a cross-platform warehouse
needs follow them.
"""

from __future__ import annotations

from tiktok_etl.storage.tables import Column, TableSpec, col

TABLE_NAME = "sl_mentions"
PLATFORM = "tiktok"
KEY_COLUMNS: tuple[str, ...] = ("tenant_id", "platform", "external_id")
# `status` values: `new` on first insert; the mention-actions job sets the other three
MENTION_STATUSES: tuple[str, ...] = ("new", "replied", "hidden", "deleted")

MENTION_COLUMNS: tuple[Column, ...] = (
    # the seed's columns, in the seed's order
    col("tenant_id", "bigint", "tenant owning the mention (from the account)",
        nullable=False, owner="key"),
    col("source_id", "text", "social-listening source of the account"),
    col("platform", "text", "`tiktok`", nullable=False, owner="key"),
    col("external_id", "text", "the platform's id of the video, comment or reply",
        nullable=False, owner="key"),
    col("url", "text", "link to the video (a comment links to its video)"),
    col("content", "text",
        "video description (else title) or caption; comment text; `''` when empty",
        nullable=False),
    col("author_name", "text", "display name of the account or the commenter's username"),
    col("author_handle", "text", "`@username`"),
    col("author_followers", "bigint", "the account's follower count that day (videos only)"),
    col("author_verified", "boolean", "the account is verified (Display API videos only)"),
    col("likes_count", "bigint", "likes"),
    col("comments_count", "bigint", "comments on a video, replies to a comment"),
    col("shares_count", "bigint", "shares (videos only)"),
    col("views_count", "bigint", "views (videos only)"),
    col("reach", "bigint", "unique viewers (Business API), else views (videos only)"),
    col("media_type", "text", "`video` or `text`", nullable=False),
    col("media_urls", "text[]", "cover or thumbnail image of a video; empty for comments",
        nullable=False),
    col("published_at", "timestamptz", "creation time (UTC)", nullable=False),
    col("post_type", "text", "`video`, `comment` or `reply`", nullable=False),
    col("status", "text",
        "triage status: `new` on first insert, then owned by the downstream workflow",
        nullable=False, owner="workflow"),
    col("duration", "double precision", "video length in seconds"),
    col("dimensions", "jsonb", "`{\"width\": w, \"height\": h}` (Display API videos)"),
    col("raw_data", "jsonb", "the original TikTok payload", nullable=False),
    # what a cross-platform warehouse needs on top
    col("parent_external_id", "text",
        "a reply's parent comment, else a comment's video; null for videos"),
    col("matched_keywords", "text[]",
        "the account's keywords found in the content, in keyword order",
        nullable=False),
    col("engagement_rate", "double precision",
        "(likes + comments + shares) / views; null for comments or without views"),
    col("account_key", "text", "the connected account (partition key)", nullable=False),
    col("date", "date", "UTC day of `published_at` (partition key)", nullable=False),
    col("ingested_at", "timestamptz", "first insert", nullable=False, owner="store"),
    col("updated_at", "timestamptz", "last refresh by the connector", nullable=False,
        owner="store"),
    col("deleted_at", "timestamptz",
        "set when a re-read partition no longer has the mention; null again if it returns",
        owner="store"),
    col("metrics_as_of", "timestamptz",
        "when TikTok reported the metric columns (likes to reach, engagement_rate): a "
        "video's metrics follow its latest `tiktok_video_metrics` snapshot while tracked"),
    col("source_kind", "text",
        "where the mention came from: `account` (an owned account's video or comment) or "
        "`query` (a Research API listening query)", nullable=False),
    col("source_key", "text",
        "the account key or the listening query key; an owned account's video that a query "
        "also matches stays `account`", nullable=False),
)  # fmt: skip

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in MENTION_COLUMNS)
CONNECTOR_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in MENTION_COLUMNS if c.owner == "connector"
)
WORKFLOW_COLUMNS: tuple[str, ...] = tuple(c.name for c in MENTION_COLUMNS if c.owner == "workflow")
# a video's metrics, refreshed by the newest observation (a partition re-read or a snapshot)
METRIC_COLUMNS: tuple[str, ...] = (
    "likes_count",
    "comments_count",
    "shares_count",
    "views_count",
    "reach",
    "engagement_rate",
    "metrics_as_of",
)

MENTIONS = TableSpec(name=TABLE_NAME, columns=MENTION_COLUMNS, key=KEY_COLUMNS)
"""``sl_mentions`` as stored; created by migration ``0005_sl_mentions``."""
