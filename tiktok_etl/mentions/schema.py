"""The one definition of ``sl_mentions``: PostgreSQL DDL, Arrow schema and README table.

Every consumer of the mention schema derives from :data:`MENTION_COLUMNS`, so PostgreSQL,
the Parquet copy, the docs and the tests cannot drift apart. The seed's columns keep the
seed's order; the columns a cross-platform warehouse needs follow them.

Columns have an owner. ``connector`` columns are what normalization produces and what a
re-ingestion refreshes; ``workflow`` columns (``status``) belong to a downstream triage
workflow and are only ever set on first insert; ``store`` columns are bookkeeping the
store maintains (``ingested_at``, ``updated_at``, ``deleted_at``); ``key`` columns identify
a mention. This module renders SQL text but must not talk to a database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import pyarrow as pa

TABLE_NAME = "sl_mentions"
PLATFORM = "tiktok"
KEY_COLUMNS: tuple[str, ...] = ("tenant_id", "platform", "external_id")

Owner = Literal["key", "connector", "workflow", "store"]

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_PG_TO_ARROW: dict[str, pa.DataType] = {
    "text": pa.string(),
    "date": pa.date32(),
    "timestamptz": _TIMESTAMP,
    "bigint": pa.int64(),
    "double precision": pa.float64(),
    "boolean": pa.bool_(),
    "jsonb": pa.string(),  # JSON text in Parquet
    "text[]": pa.list_(pa.string()),
}


@dataclass(frozen=True)
class MentionColumn:
    name: str
    pg_type: str
    arrow_type: pa.DataType
    nullable: bool
    description: str
    owner: Owner = "connector"
    # SQL default expression, for rows inserted by other writers (e.g. a triage UI)
    default: str | None = None

    def ddl(self) -> str:
        parts = [f'"{self.name}" {self.pg_type}']
        if not self.nullable:
            parts.append("NOT NULL")
        if self.default is not None:
            parts.append(f"DEFAULT {self.default}")
        return " ".join(parts)


def _column(
    name: str,
    pg_type: str,
    description: str,
    *,
    nullable: bool = True,
    owner: Owner = "connector",
    default: str | None = None,
) -> MentionColumn:
    return MentionColumn(
        name, pg_type, _PG_TO_ARROW[pg_type], nullable, description, owner, default
    )


MENTION_COLUMNS: tuple[MentionColumn, ...] = (
    # the seed's columns, in the seed's order
    _column("tenant_id", "bigint", "tenant owning the mention (from the account)",
            nullable=False, owner="key"),
    _column("source_id", "text", "social-listening source of the account"),
    _column("platform", "text", "`tiktok`", nullable=False, owner="key"),
    _column("external_id", "text", "the platform's id of the video, comment or reply",
            nullable=False, owner="key"),
    _column("url", "text", "link to the video (a comment links to its video)"),
    _column("content", "text",
            "video description (else title) or caption; comment text; `''` when empty",
            nullable=False),
    _column("author_name", "text", "display name of the account or the commenter's username"),
    _column("author_handle", "text", "`@username`"),
    _column("author_followers", "bigint", "the account's follower count that day (videos only)"),
    _column("author_verified", "boolean", "the account is verified (Display API videos only)"),
    _column("likes_count", "bigint", "likes"),
    _column("comments_count", "bigint", "comments on a video, replies to a comment"),
    _column("shares_count", "bigint", "shares (videos only)"),
    _column("views_count", "bigint", "views (videos only)"),
    _column("reach", "bigint", "unique viewers (Business API), else views (videos only)"),
    _column("media_type", "text", "`video` or `text`", nullable=False),
    _column("media_urls", "text[]", "cover or thumbnail image of a video; empty for comments",
            nullable=False, default="'{}'"),
    _column("published_at", "timestamptz", "creation time (UTC)", nullable=False),
    _column("post_type", "text", "`video`, `comment` or `reply`", nullable=False),
    _column("status", "text",
            "triage status: `new` on first insert, then owned by the downstream workflow",
            nullable=False, owner="workflow", default="'new'"),
    _column("duration", "double precision", "video length in seconds"),
    _column("dimensions", "jsonb", "`{\"width\": w, \"height\": h}` (Display API videos)"),
    _column("raw_data", "jsonb", "the original TikTok payload", nullable=False),
    # what a cross-platform warehouse needs on top
    _column("parent_external_id", "text",
            "a reply's parent comment, else a comment's video; null for videos"),
    _column("matched_keywords", "text[]",
            "the account's keywords found in the content, in keyword order",
            nullable=False, default="'{}'"),
    _column("engagement_rate", "double precision",
            "(likes + comments + shares) / views; null for comments or without views"),
    _column("account_key", "text", "the connected account (partition key)", nullable=False),
    _column("date", "date", "UTC day of `published_at` (partition key)", nullable=False),
    _column("ingested_at", "timestamptz", "first insert", nullable=False, owner="store",
            default="now()"),
    _column("updated_at", "timestamptz", "last refresh by the connector", nullable=False,
            owner="store", default="now()"),
    _column("deleted_at", "timestamptz",
            "set when a re-read partition no longer has the mention; null again if it returns",
            owner="store"),
)  # fmt: skip

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in MENTION_COLUMNS)
CONNECTOR_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in MENTION_COLUMNS if c.owner == "connector"
)
WORKFLOW_COLUMNS: tuple[str, ...] = tuple(c.name for c in MENTION_COLUMNS if c.owner == "workflow")

# each entry: (index name suffix, USING method, column expressions)
INDEXES: tuple[tuple[str, str, str], ...] = (
    ("tenant_published_at", "btree", '"tenant_id", "published_at"'),
    ("status", "btree", '"tenant_id", "status"'),
    ("matched_keywords", "gin", '"matched_keywords"'),
    ("account_key_date", "btree", '"account_key", "date"'),
    ("parent_external_id", "btree", '"tenant_id", "parent_external_id"'),
)


def column(name: str) -> MentionColumn:
    for c in MENTION_COLUMNS:
        if c.name == name:
            return c
    raise KeyError(name)


def ddl() -> str:
    """``CREATE TABLE IF NOT EXISTS sl_mentions`` and its indexes (idempotent)."""
    key = ", ".join(f'"{k}"' for k in KEY_COLUMNS)
    body = ",\n    ".join([*(c.ddl() for c in MENTION_COLUMNS), f"PRIMARY KEY ({key})"])
    statements = [f'CREATE TABLE IF NOT EXISTS "{TABLE_NAME}" (\n    {body}\n);']
    statements += [
        f'CREATE INDEX IF NOT EXISTS "{TABLE_NAME}_{suffix}_idx" '
        f'ON "{TABLE_NAME}" USING {method} ({columns});'
        for suffix, method, columns in INDEXES
    ]
    return "\n".join(statements)


def arrow_schema() -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in MENTION_COLUMNS])


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
