"""The table-spec type, and the specs of the raw tables (users, videos, comments).

A :class:`TableSpec` is static, trusted metadata: its names become SQL identifiers (always
quoted) and Parquet column names. A spec declares each column once (name, PostgreSQL type,
nullability, description) and everything else follows from it: the Arrow schema of the
Parquet copy (through the one type map :data:`ARROW_TYPES`), value coercion, catalog
metadata, the README's column table, and, for the raw tables, which attribute of each API
family's record fills a column.

The SQL that creates a table (keys, defaults, checks, indexes) lives in the frozen
migrations under :mod:`tiktok_etl.storage.migrations`; a test migrates an empty database
and compares it with the specs column by column, so a spec change needs a new migration.
A new column goes at the end of its spec, where ``ALTER TABLE ... ADD COLUMN`` puts it, so
PostgreSQL and Parquet keep the same column order.

This module is pure (no database access, no I/O); ``sl_mentions`` is declared with the same
type in :mod:`tiktok_etl.storage.mentions_table`, and the pure :mod:`tiktok_etl.mentions`
may import both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from tiktok_etl.settings import Settings

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

# the Arrow type each PostgreSQL type is written as in Parquet; jsonb travels as JSON text
ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "date": pa.date32(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "double precision": pa.float64(),
    "boolean": pa.bool_(),
    "jsonb": pa.string(),
    "text[]": pa.list_(pa.string()),
}

ApiFamily = Literal["display", "business"]

# who writes a column: "connector" values are refreshed on every re-ingestion; "key"
# columns identify a row; "workflow" columns belong to a downstream workflow (set on first
# insert only); "store" columns are bookkeeping the store maintains itself
Owner = Literal["key", "connector", "workflow", "store"]


def qualified_name(table: TableSpec | str, settings: Settings) -> str:
    """``<schema>.<table>``: where a table of ours lives (``TIKTOK_ETL_PG_SCHEMA``), for
    catalog metadata and documentation; our SQL itself stays unqualified."""
    name = table if isinstance(table, str) else table.name
    return f"{settings.pg_schema}.{name}"


def quote_ident(name: str) -> str:
    """Quote a trusted identifier from a spec (validated on construction)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str
    description: str
    nullable: bool = True
    owner: Owner = "connector"
    # the attribute of each API family's record that fills this column (raw tables only)
    sources: Mapping[ApiFamily, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"invalid column name {self.name!r}")
        if self.pg_type not in ARROW_TYPES:
            raise ValueError(f"{self.name}: unsupported PostgreSQL type {self.pg_type!r}")

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.pg_type]


def col(
    name: str,
    pg_type: str,
    description: str,
    *,
    nullable: bool = True,
    owner: Owner = "connector",
    sources: Mapping[ApiFamily, str] | None = None,
) -> Column:
    return Column(name, pg_type, description, nullable, owner, dict(sources or {}))


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_columns: tuple[str, ...] = ("account_key", "date")

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"invalid table name {self.name!r}")
        names = self.column_names
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate column names")
        for group, what in ((self.key, "key"), (self.partition_columns, "partition")):
            missing = [c for c in group if c not in names]
            if missing:
                raise ValueError(f"{self.name}: {what} columns {missing} are not columns")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def arrow_schema(self, *, exclude: Sequence[str] = ()) -> pa.Schema:
        return pa.schema(
            [
                pa.field(c.name, c.arrow_type, nullable=c.nullable)
                for c in self.columns
                if c.name not in exclude
            ]
        )


_PARTITION = (
    col("account_key", "text", "the connected account (partition key)", nullable=False),
    col("date", "date", "the UTC day the row belongs to (partition key)", nullable=False),
)
_API = col("api", "text", "the API family the row was read from: `display` or `business`",
           nullable=False)  # fmt: skip
_FETCHED_AT = col("fetched_at", "timestamptz", "when the connector read the row from TikTok",
                  nullable=False)  # fmt: skip
_RAW = col("raw", "jsonb", "the record exactly as TikTok sent it", nullable=False)

USERS = TableSpec(
    name="tiktok_users",
    columns=(
        *_PARTITION,
        _API,
        col("open_id", "text", "the account's id for this app", nullable=False),
        col("username", "text", "the `@handle`, without the `@`"),
        col("display_name", "text", "the profile name"),
        col("avatar_url", "text", "profile image URL (expires)"),
        col("bio_description", "text", "profile bio (Display API)"),
        col("is_verified", "boolean", "the account is verified (Display API)"),
        col("follower_count", "bigint", "followers that day"),
        col("following_count", "bigint", "accounts followed (Display API)"),
        col("likes_count", "bigint", "likes over all the account's videos (Display API)"),
        col("video_count", "bigint", "public videos (Display API)"),
        _FETCHED_AT,
        _RAW,
    ),
    key=("account_key", "date"),
)

VIDEOS = TableSpec(
    name="tiktok_videos",
    columns=(
        *_PARTITION,
        _API,
        col("video_id", "text", "TikTok's video id", nullable=False,
            sources={"display": "id", "business": "item_id"}),
        col("create_time", "timestamptz", "when the video was posted (UTC)", nullable=False,
            sources={"display": "create_time", "business": "create_time"}),
        col("description", "text", "the caption",
            sources={"display": "video_description", "business": "caption"}),
        col("title", "text", "the title (Display API)", sources={"display": "title"}),
        col("share_url", "text", "public link to the video",
            sources={"display": "share_url", "business": "share_url"}),
        col("cover_image_url", "text", "cover or thumbnail image URL (expires)",
            sources={"display": "cover_image_url", "business": "thumbnail_url"}),
        col("embed_url", "text", "embeddable player URL",
            sources={"display": "embed_link", "business": "embed_url"}),
        col("duration", "double precision", "length in seconds",
            sources={"display": "duration", "business": "video_duration"}),
        col("width", "integer", "width in pixels (Display API)", sources={"display": "width"}),
        col("height", "integer", "height in pixels (Display API)",
            sources={"display": "height"}),
        col("like_count", "bigint", "likes that day",
            sources={"display": "like_count", "business": "likes"}),
        col("comment_count", "bigint", "comments that day",
            sources={"display": "comment_count", "business": "comments"}),
        col("share_count", "bigint", "shares that day",
            sources={"display": "share_count", "business": "shares"}),
        col("view_count", "bigint", "views that day",
            sources={"display": "view_count", "business": "video_views"}),
        col("reach", "bigint", "unique viewers (Business API)", sources={"business": "reach"}),
        col("full_video_watched_rate", "double precision",
            "share of views that watched to the end, 0 to 1 (Business API)",
            sources={"business": "full_video_watched_rate"}),
        col("total_time_watched", "double precision",
            "seconds watched over all views (Business API)",
            sources={"business": "total_time_watched"}),
        col("average_time_watched", "double precision", "seconds watched per view (Business API)",
            sources={"business": "average_time_watched"}),
        _FETCHED_AT,
        _RAW,
    ),
    key=("account_key", "date", "video_id"),
)  # fmt: skip

COMMENTS = TableSpec(
    name="tiktok_comments",
    columns=(
        *_PARTITION,
        col("comment_id", "text", "TikTok's comment id", nullable=False),
        col("video_id", "text", "the video commented on", nullable=False),
        col("parent_comment_id", "text", "a reply's parent comment; null for top-level comments"),
        col("create_time", "timestamptz", "when the comment was posted (UTC)", nullable=False),
        col("text", "text", "the comment text"),
        col("like_count", "bigint", "likes that day"),
        col("reply_count", "bigint", "replies (top-level comments)"),
        col("username", "text", "the commenter's username"),
        col("unique_identifier", "text", "the commenter's stable id"),
        col("profile_image", "text", "the commenter's profile image URL (expires)"),
        col("status", "text", "visibility, e.g. `PUBLIC`"),
        col("owner", "boolean", "written by the account that owns the video"),
        col("pinned", "boolean", "pinned by the video's owner"),
        _FETCHED_AT,
        _RAW,
    ),
    key=("account_key", "date", "comment_id"),
)

RAW_TABLES: tuple[TableSpec, ...] = (USERS, VIDEOS, COMMENTS)

# bookkeeping, not TikTok data: the last write of each partition of each table, whose
# write_id its Parquet file carries too (see :mod:`tiktok_etl.storage.partition_copies`)
PARTITION_WRITES = TableSpec(
    name="tiktok_partition_writes",
    columns=(
        col("table_name", "text", "the table the partition belongs to", nullable=False),
        *_PARTITION,
        col("write_id", "text", "the write's uuid, also in the Parquet file's metadata",
            nullable=False),
        col("row_count", "bigint", "rows the partition held after the write", nullable=False),
        col("written_at", "timestamptz", "when the write was made (its transaction's start)",
            nullable=False),
    ),
    key=("table_name", "account_key", "date"),
)  # fmt: skip
