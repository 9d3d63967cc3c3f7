"""The one definition of ``sl_mentions``: its columns, Arrow table building and README table.

The columns are specs of the shared :class:`~tiktok_etl.storage.tables.Column` type, so the
Arrow schema, value coercion, the docs and the migrated database (checked by a test) all
follow :data:`MENTION_COLUMNS`. The seed's columns keep the seed's order; the columns a
cross-platform warehouse needs follow them.

The columns themselves are declared in :mod:`tiktok_etl.storage.mentions_table` (beside
the raw tables' specs) and re-exported here. Pure: no SQL, no database; the table is created
by migration ``0005_sl_mentions``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from tiktok_etl.storage.mentions_table import (
    COLUMN_NAMES,
    CONNECTOR_COLUMNS,
    KEY_COLUMNS,
    MENTION_COLUMNS,
    MENTIONS,
    PLATFORM,
    TABLE_NAME,
    WORKFLOW_COLUMNS,
)

__all__ = [
    "COLUMN_NAMES",
    "CONNECTOR_COLUMNS",
    "KEY_COLUMNS",
    "MENTIONS",
    "MENTION_COLUMNS",
    "PLATFORM",
    "TABLE_NAME",
    "WORKFLOW_COLUMNS",
    "arrow_schema",
    "markdown_table",
    "mentions_arrow_table",
    "to_json_text",
]


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
