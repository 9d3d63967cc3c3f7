"""Both copies of a partition, PostgreSQL and Parquet, written as one version.

Each write gets an id (a uuid). Under the partition's lock and inside one PostgreSQL
transaction, it replaces the rows (raw tables) or upserts the mentions (``sl_mentions``),
records the id and the row count in ``tiktok_partition_writes``, and publishes the Parquet
file with the same id in its key-value metadata; then the transaction commits. Overlapping
writers of one partition (the 30-minute schedule, the lookback and a backfill all overlap)
queue on the lock, so the last one to take it wins in both copies, and the file is never
older than the rows. If the Parquet file cannot be written, the transaction rolls back and
both copies keep the previous version. Only a commit that fails after the file was
published leaves them apart, and then their ids differ, which the consistency check
reports (:func:`tiktok_etl.storage.checks.partition_counts`) and the next write repairs.

What this module must not do: decide what a partition holds. It sequences writes that
:mod:`~tiktok_etl.storage.partitions`, :mod:`~tiktok_etl.storage.mentions_store` and
:mod:`~tiktok_etl.storage.parquet` perform.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from tiktok_etl.storage.mentions_store import (
    MENTIONS_TABLE,
    UpsertResult,
    iter_mentions_arrow,
    upsert_mentions,
)
from tiktok_etl.storage.parquet import write_parquet_batches, write_parquet_partition
from tiktok_etl.storage.partitions import (
    Bind,
    PartitionWriteResult,
    count_partition,
    in_transaction,
    write_partition,
)
from tiktok_etl.storage.rejects import RejectInput
from tiktok_etl.storage.tables import PARTITION_WRITES, TableSpec

_RECORD_SQL = sa.text(
    f"INSERT INTO {PARTITION_WRITES.name} (table_name, account_key, date, write_id, row_count) "
    "VALUES (:t, :a, :d, :w, :n) ON CONFLICT (table_name, account_key, date) DO UPDATE "
    "SET write_id = EXCLUDED.write_id, row_count = EXCLUDED.row_count, written_at = now()"
)
_RECORDED_SQL = sa.text(
    f"SELECT write_id FROM {PARTITION_WRITES.name} "
    "WHERE table_name = :t AND account_key = :a AND date = :d"
)


@dataclass(frozen=True)
class CopiesWritten:
    """A raw partition after its write: what PostgreSQL did, the file, the shared id."""

    write_id: str
    postgres: PartitionWriteResult
    parquet_path: str


@dataclass(frozen=True)
class MentionCopiesWritten:
    """An ``sl_mentions`` partition after its upsert and export, and the shared id."""

    write_id: str
    upserted: UpsertResult
    parquet_path: str


def new_write_id() -> str:
    return str(uuid.uuid4())


def record_write(
    conn: sa.Connection, table: str, account_key: str, day: date, write_id: str, row_count: int
) -> None:
    """Make ``write_id`` the partition's current write, in the caller's transaction."""
    conn.execute(
        _RECORD_SQL, {"t": table, "a": account_key, "d": day, "w": write_id, "n": row_count}
    )


def recorded_write_id(bind: Bind, table: str, account_key: str, day: date) -> str | None:
    """The id of the partition's last committed write; None if none was recorded."""
    with in_transaction(bind) as conn:
        found = conn.execute(_RECORDED_SQL, {"t": table, "a": account_key, "d": day}).scalar()
    return str(found) if found is not None else None


def write_partition_copies(
    engine: sa.Engine,
    parquet_root: str,
    spec: TableSpec,
    account_key: str,
    day: date,
    rows: Sequence[Mapping[str, Any]],
    *,
    rejects: Sequence[RejectInput] | None = None,
) -> CopiesWritten:
    """Make ``rows`` the partition's content in PostgreSQL (rows and rejects, see
    :func:`~tiktok_etl.storage.partitions.write_partition`) and in Parquet, as one write."""
    write_id = new_write_id()
    with engine.begin() as conn:
        # takes the partition's lock, held until the commit below
        written = write_partition(conn, spec, account_key, day, rows, rejects=rejects)
        record_write(conn, spec.name, account_key, day, write_id, written.rows_written)
        path = write_parquet_partition(
            parquet_root, spec, account_key, day, rows, write_id=write_id
        )
    return CopiesWritten(write_id=write_id, postgres=written, parquet_path=path)


def write_mention_copies(
    engine: sa.Engine,
    parquet_root: str,
    account_key: str,
    day: date,
    mentions: Iterable[Any],
    *,
    source_kind: str = "account",
) -> MentionCopiesWritten:
    """Upsert the partition's mentions (see
    :func:`~tiktok_etl.storage.mentions_store.upsert_mentions`), then export what the
    transaction now holds, soft-deleted rows and workflow columns included, to Parquet."""
    write_id = new_write_id()
    with engine.begin() as conn:
        # takes the partition's lock, held until the commit below
        upserted = upsert_mentions(conn, account_key, day, mentions, source_kind=source_kind)
        rows = count_partition(conn, MENTIONS_TABLE, account_key, day)
        record_write(conn, MENTIONS_TABLE.name, account_key, day, write_id, rows)
        path = write_parquet_batches(
            parquet_root,
            MENTIONS_TABLE,
            account_key,
            day,
            iter_mentions_arrow(conn, account_key, day),
            write_id=write_id,
        )
    return MentionCopiesWritten(write_id=write_id, upserted=upserted, parquet_path=path)
