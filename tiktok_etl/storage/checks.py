"""The counts the data-quality checks judge, queried from what one partition actually holds.

They read PostgreSQL and the Parquet file rather than the rows a step meant to write, so a
write that went wrong shows, not just a fetch that did. Besides counts, they read the id of
the write each copy holds (``tiktok_partition_writes`` and the file's metadata, see
:mod:`tiktok_etl.storage.partition_copies`): equal counts from two different writes are
still two versions. This module only counts: whether a count passes is decided by the
Dagster checks in :mod:`tiktok_etl.defs.checks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from tiktok_etl.storage.parquet import parquet_partition_footer
from tiktok_etl.storage.partition_copies import recorded_write_id
from tiktok_etl.storage.tables import TableSpec, quote_ident

_PARTITION = "account_key = :a AND date = :d"


@dataclass(frozen=True)
class PartitionCounts:
    """What one ``(account_key, date)`` partition holds, in PostgreSQL and in Parquet."""

    duplicate_keys: int
    rows_missing_ids: int
    # None when the table has no time column to hold to the partition's day
    rows_outside_window: int | None
    postgres_rows: int
    parquet_rows: int
    # the write each copy holds; None where no id was recorded (a write before ids existed)
    postgres_write_id: str | None = None
    parquet_write_id: str | None = None


def _scalar(conn: sa.Connection, sql: str, params: dict[str, Any]) -> int:
    return int(conn.execute(sa.text(sql), params).scalar_one())


def count_duplicate_keys(conn: sa.Connection, spec: TableSpec, account_key: str, day: date) -> int:
    """Keys of the table's natural key that occur more than once in the partition."""
    key_cols = ", ".join(quote_ident(c) for c in spec.key)
    return _scalar(
        conn,
        f"SELECT count(*) FROM (SELECT {key_cols} FROM {quote_ident(spec.name)} "
        f"WHERE {_PARTITION} GROUP BY {key_cols} HAVING count(*) > 1) d",
        {"a": account_key, "d": day},
    )


def count_missing_ids(
    conn: sa.Connection, spec: TableSpec, id_columns: Sequence[str], account_key: str, day: date
) -> int:
    """Rows of the partition with any of ``id_columns`` NULL or empty."""
    missing = " OR ".join(f"{quote_ident(c)} IS NULL OR {quote_ident(c)} = ''" for c in id_columns)
    return _scalar(
        conn,
        f"SELECT count(*) FROM {quote_ident(spec.name)} WHERE {_PARTITION} AND ({missing})",
        {"a": account_key, "d": day},
    )


def count_outside_window(
    conn: sa.Connection,
    spec: TableSpec,
    time_column: str,
    account_key: str,
    day: date,
    start: datetime,
    end: datetime,
) -> int:
    """Rows of the partition whose ``time_column`` falls outside ``[start, end)``."""
    col = quote_ident(time_column)
    return _scalar(
        conn,
        f"SELECT count(*) FROM {quote_ident(spec.name)} WHERE {_PARTITION} "
        f"AND ({col} < :s OR {col} >= :e)",
        {"a": account_key, "d": day, "s": start, "e": end},
    )


def count_rows(conn: sa.Connection, spec: TableSpec, account_key: str, day: date) -> int:
    return _scalar(
        conn,
        f"SELECT count(*) FROM {quote_ident(spec.name)} WHERE {_PARTITION}",
        {"a": account_key, "d": day},
    )


def partition_counts(
    engine: sa.Engine,
    parquet_root: str,
    spec: TableSpec,
    *,
    id_columns: Sequence[str],
    time_column: str | None,
    account_key: str,
    day: date,
    start: datetime,
    end: datetime,
) -> PartitionCounts:
    """Every count the checks need for one partition: the PostgreSQL ones on one connection,
    then the Parquet file's row count and write id."""
    with engine.connect() as conn:
        duplicates = count_duplicate_keys(conn, spec, account_key, day)
        missing = count_missing_ids(conn, spec, id_columns, account_key, day)
        outside = (
            count_outside_window(conn, spec, time_column, account_key, day, start, end)
            if time_column
            else None
        )
        postgres_rows = count_rows(conn, spec, account_key, day)
        postgres_write_id = recorded_write_id(conn, spec.name, account_key, day)
    footer = parquet_partition_footer(parquet_root, spec, account_key, day)
    return PartitionCounts(
        duplicate_keys=duplicates,
        rows_missing_ids=missing,
        rows_outside_window=outside,
        postgres_rows=postgres_rows,
        parquet_rows=footer.rows,
        postgres_write_id=postgres_write_id,
        parquet_write_id=footer.write_id,
    )
