"""Replace one ``(account_key, date)`` partition of a raw table in PostgreSQL, atomically.

One transaction per write: lock the partition, COPY the rows into a temp table, delete the
partition's old rows, insert the new ones (and, optionally, replace the partition's
rejects). Re-running a partition therefore replaces it and never duplicates it, and a
failure at any step leaves the previous rows in place. Rows are validated before any SQL
(see :func:`coercion.prepare_rows`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from tiktok_etl.storage.coercion import prepare_rows
from tiktok_etl.storage.db import driver_connection
from tiktok_etl.storage.errors import PartitionWriteError
from tiktok_etl.storage.rejects import RejectInput, replace_rejects
from tiktok_etl.storage.tables import TableSpec

Bind = sa.Engine | sa.Connection


@dataclass(frozen=True)
class PartitionWriteResult:
    rows_written: int
    rows_deleted: int
    rejects_written: int = 0


@contextmanager
def in_transaction(bind: Bind) -> Iterator[sa.Connection]:
    """A connection in a transaction: a new one committed on success for an Engine, or the
    caller's connection (whose transaction the caller commits or rolls back)."""
    if isinstance(bind, sa.Engine):
        with bind.begin() as conn:
            yield conn
    else:
        yield bind


def lock_partition(conn: sa.Connection, table: str, account_key: str, day: date) -> None:
    """Serialize writers of one partition until the current transaction ends."""
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
        {"name": f"tiktok_etl:partition:{table}:{account_key}:{day.isoformat()}"},
    )


def stage_rows(
    cursor: psycopg.Cursor[Any], spec: TableSpec, prepared: Sequence[tuple[Any, ...]]
) -> sql.Identifier:
    """COPY prepared rows (see :func:`coercion.prepare_rows`) into a new temp table shaped
    like ``spec``'s table, dropped at commit; returns the temp table's name. The building
    block for other loads, e.g. an upsert that preserves workflow columns."""
    staging = sql.Identifier(f"_load_{spec.name}")
    columns = sql.SQL(", ").join(sql.Identifier(n) for n in spec.column_names)
    cursor.execute(
        sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
            staging, sql.Identifier(spec.name)
        )
    )
    with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(staging, columns)) as copy:
        for values in prepared:
            copy.write_row(values)
    return staging


def write_partition(
    bind: Bind,
    spec: TableSpec,
    account_key: str,
    day: date,
    rows: Sequence[Mapping[str, Any]],
    *,
    rejects: Sequence[RejectInput] | None = None,
) -> PartitionWriteResult:
    """Make ``rows`` the whole content of the partition (an empty list empties it).

    With ``rejects`` (``(payload, reason, kind)`` tuples), the partition's rejects are
    replaced in the same transaction; with None they are left alone. Given a Connection,
    the write joins the caller's transaction and is committed with it.
    """
    if spec.partition_columns != ("account_key", "date"):
        raise ValueError(f"{spec.name} is not partitioned by (account_key, date)")
    prepared = prepare_rows(spec, account_key, day, rows)
    table = sql.Identifier(spec.name)
    columns = sql.SQL(", ").join(sql.Identifier(n) for n in spec.column_names)
    with in_transaction(bind) as conn:
        lock_partition(conn, spec.name, account_key, day)
        cursor = driver_connection(conn).cursor()
        try:
            staging = stage_rows(cursor, spec, prepared)
            # only now, with every row loaded, touch the target table
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE account_key = %s AND date = %s").format(table),
                (account_key, day),
            )
            deleted = cursor.rowcount
            cursor.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                    table, columns, columns, staging
                )
            )
            written = cursor.rowcount
            # dropped now as well as on commit: a caller's transaction may write again
            cursor.execute(sql.SQL("DROP TABLE {}").format(staging))
        except psycopg.Error as exc:
            raise PartitionWriteError(spec.name, account_key, day.isoformat(), exc) from exc
        rejects_written = 0
        if rejects is not None:
            rejects_written = replace_rejects(conn, spec.name, account_key, day, rejects)
    return PartitionWriteResult(
        rows_written=written, rows_deleted=deleted, rejects_written=rejects_written
    )


def read_partition(
    bind: Bind, spec: TableSpec, account_key: str, day: date
) -> list[dict[str, Any]]:
    """The partition's rows ordered by key; ``jsonb`` comes back as Python objects."""
    query = sql.SQL("SELECT {} FROM {} WHERE account_key = %s AND date = %s ORDER BY {}").format(
        sql.SQL(", ").join(sql.Identifier(n) for n in spec.column_names),
        sql.Identifier(spec.name),
        sql.SQL(", ").join(sql.Identifier(n) for n in spec.key),
    )
    with in_transaction(bind) as conn:
        cursor = driver_connection(conn).cursor()
        cursor.execute(query, (account_key, day))
        return [dict(zip(spec.column_names, row, strict=True)) for row in cursor.fetchall()]


def count_partition(bind: Bind, spec: TableSpec, account_key: str, day: date) -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE account_key = %s AND date = %s").format(
        sql.Identifier(spec.name)
    )
    with in_transaction(bind) as conn:
        cursor = driver_connection(conn).cursor()
        cursor.execute(query, (account_key, day))
        row = cursor.fetchone()
        return int(row[0]) if row else 0
