"""The one definition of ``sl_mentions``: its columns, Arrow table building and README table.

The columns are specs of the shared :class:`~tiktok_etl.storage.tables.Column` type, so the
Arrow schema, value coercion, the docs and the migrated database (checked by a test) all
follow :data:`MENTION_COLUMNS`. The seed's columns keep the seed's order; the columns a
cross-platform warehouse needs follow them.

Columns have an owner. ``connector`` columns are what normalization produces and what a
re-ingestion refreshes; ``workflow`` columns (``status``) belong to a downstream triage
workflow and are only ever set on first insert; ``store`` columns are bookkeeping the
store maintains (``ingested_at``, ``updated_at``, ``deleted_at``); ``key`` columns identify
a mention. Pure: no SQL, no database; the table is created by migration
``0005_sl_mentions``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from tiktok_etl.storage.tables import Column, TableSpec, col

TABLE_NAME = "sl_mentions"
PLATFORM = "tiktok"
KEY_COLUMNS: tuple[str, ...] = ("tenant_id", "platform", "external_id")

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
)  # fmt: skip

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in MENTION_COLUMNS)
CONNECTOR_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in MENTION_COLUMNS if c.owner == "connector"
)
WORKFLOW_COLUMNS: tuple[str, ...] = tuple(c.name for c in MENTION_COLUMNS if c.owner == "workflow")

MENTIONS = TableSpec(name=TABLE_NAME, columns=MENTION_COLUMNS, key=KEY_COLUMNS)
"""``sl_mentions`` as stored; created by migration ``0005_sl_mentions``."""


def arrow_schema() -> pa.Schema:
    return MENTIONS.arrow_schema()


def markdown_table() -> str:
    """The README's column table (between ``<!-- sl_mentions columns -->`` markers)."""
    lines = [
        "| column | PostgreSQL | Parquet (Arrow) | null | description |",
        "|---|---|---|---|---|",
    ]
    for c in MENTION_COLUMNS:
        nullable = "yes" if c.nullable else "no"
        lines.append(
            f"| `{c.name}` | `{c.pg_type}` | `{c.arrow_type}` | {nullable} | {c.description} |"
        )
    return "\n".join(lines) + "\n"


def to_json_text(value: Any) -> str | None:
    """JSON text as stored in Parquet; strings are taken to be JSON text already."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamps in sl_mentions must be timezone-aware")
    return value.astimezone(UTC)


def mentions_arrow_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Mention rows as an Arrow table with :func:`arrow_schema` (for Parquet).

    Timestamps become UTC microseconds, ``media_urls`` / ``matched_keywords`` lists of
    strings, ``dimensions`` / ``raw_data`` JSON text. Missing columns are null, so a
    non-nullable one missing fails here rather than in a reader.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    arrays = []
    for c in MENTION_COLUMNS:
        values = [row.get(c.name) for row in rows]
        if c.pg_type == "jsonb":
            values = [to_json_text(v) for v in values]
        elif c.pg_type == "timestamptz":
            values = [_utc(v) for v in values]
        elif c.pg_type == "text[]":
            values = [None if v is None else list(v) for v in values]
        if not c.nullable and any(v is None for v in values):
            raise ValueError(f"{TABLE_NAME}.{c.name} is required")
        arrays.append(pa.array(values, type=c.arrow_type))
    return pa.Table.from_arrays(arrays, schema=arrow_schema())
