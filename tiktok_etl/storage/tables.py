"""One definition per table, serving both PostgreSQL (DDL) and Parquet (Arrow schema).

A :class:`TableSpec` is static, trusted metadata: its names become SQL identifiers (always
quoted) and Parquet column names. Specs describe the shape of data only; loading and
querying live in :mod:`partitions` and :mod:`parquet`.

Migrations render their DDL from these specs, so changing a spec that has already shipped
needs a new migration (``ALTER TABLE ...``) as well: ``CREATE TABLE IF NOT EXISTS`` does not
alter an existing table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

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


def quote_ident(name: str) -> str:
    """Quote a trusted identifier from a spec (validated on construction)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str
    arrow_type: pa.DataType
    nullable: bool = True

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"invalid column name {self.name!r}")

    def ddl(self) -> str:
        return f"{quote_ident(self.name)} {self.pg_type}" + ("" if self.nullable else " NOT NULL")


def col(name: str, pg_type: str, *, nullable: bool = True) -> Column:
    """A column whose Arrow type follows from its PostgreSQL type."""
    return Column(name, pg_type, ARROW_TYPES[pg_type], nullable)


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_columns: tuple[str, ...] = ("account_key", "date")
    # each entry is one index over the listed columns
    indexes: tuple[tuple[str, ...], ...] = field(default=())

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
        for index in self.indexes:
            if not index or any(c not in names for c in index):
                raise ValueError(f"{self.name}: bad index {index}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def ddl(self) -> str:
        """``CREATE TABLE IF NOT EXISTS`` with the primary key, then its indexes."""
        lines = [c.ddl() for c in self.columns]
        lines.append(f"PRIMARY KEY ({_ident_list(self.key)})")
        body = ",\n    ".join(lines)
        statements = [f"CREATE TABLE IF NOT EXISTS {quote_ident(self.name)} (\n    {body}\n);"]
        for index in self.indexes:
            index_name = quote_ident(f"{self.name}_{'_'.join(index)}_idx")
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {index_name} "
                f"ON {quote_ident(self.name)} ({_ident_list(index)});"
            )
        return "\n".join(statements)

    def arrow_schema(self, *, exclude: Sequence[str] = ()) -> pa.Schema:
        return pa.schema(
            [
                pa.field(c.name, c.arrow_type, nullable=c.nullable)
                for c in self.columns
                if c.name not in exclude
            ]
        )


def _ident_list(names: Sequence[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


_PARTITION = (col("account_key", "text", nullable=False), col("date", "date", nullable=False))

USERS = TableSpec(
    name="tiktok_users",
    columns=(
        *_PARTITION,
        col("api", "text", nullable=False),
        col("open_id", "text", nullable=False),
        col("username", "text"),
        col("display_name", "text"),
        col("avatar_url", "text"),
        col("bio_description", "text"),
        col("is_verified", "boolean"),
        col("follower_count", "bigint"),
        col("following_count", "bigint"),
        col("likes_count", "bigint"),
        col("video_count", "bigint"),
        col("fetched_at", "timestamptz", nullable=False),
        col("raw", "jsonb", nullable=False),
    ),
    key=("account_key", "date"),
)

VIDEOS = TableSpec(
    name="tiktok_videos",
    columns=(
        *_PARTITION,
        col("api", "text", nullable=False),
        col("video_id", "text", nullable=False),
        col("create_time", "timestamptz", nullable=False),
        col("description", "text"),
        col("title", "text"),
        col("share_url", "text"),
        col("cover_image_url", "text"),
        col("embed_url", "text"),
        col("duration", "double precision"),
        col("width", "integer"),
        col("height", "integer"),
        col("like_count", "bigint"),
        col("comment_count", "bigint"),
        col("share_count", "bigint"),
        col("view_count", "bigint"),
        col("reach", "bigint"),
        col("full_video_watched_rate", "double precision"),
        col("total_time_watched", "double precision"),
        col("average_time_watched", "double precision"),
        col("fetched_at", "timestamptz", nullable=False),
        col("raw", "jsonb", nullable=False),
    ),
    key=("account_key", "date", "video_id"),
    indexes=(("video_id",), ("create_time",)),
)

COMMENTS = TableSpec(
    name="tiktok_comments",
    columns=(
        *_PARTITION,
        col("comment_id", "text", nullable=False),
        col("video_id", "text", nullable=False),
        col("parent_comment_id", "text"),
        col("create_time", "timestamptz", nullable=False),
        col("text", "text"),
        col("like_count", "bigint"),
        col("reply_count", "bigint"),
        col("username", "text"),
        col("unique_identifier", "text"),
        col("profile_image", "text"),
        col("status", "text"),
        col("owner", "boolean"),
        col("pinned", "boolean"),
        col("fetched_at", "timestamptz", nullable=False),
        col("raw", "jsonb", nullable=False),
    ),
    key=("account_key", "date", "comment_id"),
    indexes=(("video_id",), ("create_time",)),
)

RAW_TABLES: tuple[TableSpec, ...] = (USERS, VIDEOS, COMMENTS)
