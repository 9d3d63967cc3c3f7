"""Write the metric-history tables, in PostgreSQL and Parquet, one transaction per write.

A video snapshot replaces its day's partition of ``tiktok_video_metrics`` and of
``tiktok_video_breakdowns`` (rows and rejects) with the same machinery as the raw tables
(:func:`~tiktok_etl.storage.partitions.write_partition`, a write id recorded in
``tiktok_partition_writes`` and stamped into the Parquet file), then carries the snapshot
into ``sl_mentions``: the tracked videos' metric columns and ``metrics_as_of``, unless the
mention already holds a newer observation, and re-exports each touched ``sl_mentions``
partition to Parquet under that partition's lock. Everything commits together, so a crash
leaves the previous snapshot, the previous mention metrics and their files' ids in agreement.

Account metrics arrive as many days at once (a Business account's ~60 days); each day is
its own ``(account_key, date)`` partition, replaced in one transaction. Days the read did
not return are never touched, so history older than what TikTok still returns stays.

What this module must not do: decide what a snapshot holds (see ``ingest/metrics.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from tiktok_etl.storage.mentions_store import MENTIONS_TABLE, iter_mentions_arrow
from tiktok_etl.storage.metrics_tables import ACCOUNT_METRICS, VIDEO_BREAKDOWNS, VIDEO_METRICS
from tiktok_etl.storage.parquet import write_parquet_batches, write_parquet_partition
from tiktok_etl.storage.partition_copies import new_write_id, record_write
from tiktok_etl.storage.partitions import count_partition, lock_partition, write_partition
from tiktok_etl.storage.rejects import RejectInput, replace_rejects
from tiktok_etl.storage.tables import TableSpec

Rows = Sequence[Mapping[str, Any]]

# the mentions a snapshot refreshes, and their partitions (to lock and re-export)
_MENTION_DAYS_SQL = sa.text(
    "SELECT DISTINCT m.date FROM sl_mentions AS m JOIN tiktok_video_metrics AS v "
    "ON m.account_key = v.account_key AND m.external_id = v.video_id "
    "WHERE v.account_key = :a AND v.date = :d AND m.platform = 'tiktok' "
    "AND m.post_type = 'video' ORDER BY m.date"
)
# reach and engagement_rate as normalization computes them (mentions/normalize.py)
_REFRESH_MENTIONS_SQL = sa.text(
    "UPDATE sl_mentions AS m SET likes_count = v.like_count, "
    "comments_count = v.comment_count, shares_count = v.share_count, "
    "views_count = v.view_count, "
    "reach = CASE WHEN v.api = 'business' THEN v.reach ELSE v.view_count END, "
    "engagement_rate = CASE WHEN coalesce(v.view_count, 0) = 0 OR (v.like_count IS NULL "
    "AND v.comment_count IS NULL AND v.share_count IS NULL) THEN NULL ELSE "
    "(coalesce(v.like_count, 0) + coalesce(v.comment_count, 0) + coalesce(v.share_count, 0))"
    "::double precision / v.view_count END, "
    "metrics_as_of = v.observed_at, updated_at = now() "
    "FROM tiktok_video_metrics AS v "
    "WHERE v.account_key = :a AND v.date = :d AND m.account_key = v.account_key "
    "AND m.external_id = v.video_id AND m.platform = 'tiktok' AND m.post_type = 'video' "
    "AND (m.metrics_as_of IS NULL OR m.metrics_as_of <= v.observed_at)"
)


@dataclass(frozen=True)
class SnapshotWritten:
    """A video snapshot after its write."""

    write_id: str
    videos: int
    breakdowns: int
    rows_replaced: int
    mentions_refreshed: int
    mention_partitions_exported: int
    parquet_path: str


@dataclass(frozen=True)
class AccountDaysWritten:
    write_id: str
    days: tuple[date, ...]
    rows_replaced: int


def _replace(
    conn: sa.Connection,
    root: str,
    spec: TableSpec,
    account_key: str,
    day: date,
    rows: Rows,
    rejects: Sequence[RejectInput] | None,
    write_id: str,
) -> tuple[int, str]:
    """Replace one partition in both copies within ``conn``'s transaction (locks it)."""
    written = write_partition(conn, spec, account_key, day, rows, rejects=rejects)
    record_write(conn, spec.name, account_key, day, write_id, written.rows_written)
    path = write_parquet_partition(root, spec, account_key, day, rows, write_id=write_id)
    return written.rows_deleted, path


def write_video_snapshot(
    engine: sa.Engine,
    parquet_root: str,
    account_key: str,
    day: date,
    *,
    metrics: Rows,
    breakdowns: Rows,
    rejects: Sequence[RejectInput],
    breakdown_rejects: Sequence[RejectInput],
) -> SnapshotWritten:
    """Make ``metrics`` and ``breakdowns`` the day's snapshot and carry it into
    ``sl_mentions``, in one transaction."""
    write_id = new_write_id()
    with engine.begin() as conn:
        replaced, path = _replace(
            conn, parquet_root, VIDEO_METRICS, account_key, day, metrics, rejects, write_id
        )
        _replace(
            conn,
            parquet_root,
            VIDEO_BREAKDOWNS,
            account_key,
            day,
            breakdowns,
            breakdown_rejects,
            write_id,
        )
        refreshed, exported = _refresh_mentions(conn, parquet_root, account_key, day)
    return SnapshotWritten(
        write_id=write_id,
        videos=len(metrics),
        breakdowns=len(breakdowns),
        rows_replaced=replaced,
        mentions_refreshed=refreshed,
        mention_partitions_exported=exported,
        parquet_path=path,
    )


def _refresh_mentions(
    conn: sa.Connection, parquet_root: str, account_key: str, day: date
) -> tuple[int, int]:
    params = {"a": account_key, "d": day}
    days = [row[0] for row in conn.execute(_MENTION_DAYS_SQL, params)]
    for mention_day in days:  # in date order, as every writer of one account locks
        lock_partition(conn, MENTIONS_TABLE.name, account_key, mention_day)
    refreshed = conn.execute(_REFRESH_MENTIONS_SQL, params).rowcount
    if not refreshed:
        return 0, 0
    for mention_day in days:
        write_id = new_write_id()
        rows = count_partition(conn, MENTIONS_TABLE, account_key, mention_day)
        record_write(conn, MENTIONS_TABLE.name, account_key, mention_day, write_id, rows)
        write_parquet_batches(
            parquet_root,
            MENTIONS_TABLE,
            account_key,
            mention_day,
            iter_mentions_arrow(conn, account_key, mention_day),
            write_id=write_id,
        )
    return refreshed, len(days)


def write_account_days(
    engine: sa.Engine,
    parquet_root: str,
    account_key: str,
    day: date,
    rows: Mapping[date, Mapping[str, Any]],
    rejects: Sequence[RejectInput],
) -> AccountDaysWritten:
    """Replace each day of ``rows`` (one row a day) in ``tiktok_account_metrics``, and the
    rejects of the materialized ``day``, in one transaction; other days stay."""
    write_id = new_write_id()
    replaced = 0
    with engine.begin() as conn:
        for each in sorted(rows):
            deleted, _ = _replace(
                conn, parquet_root, ACCOUNT_METRICS, account_key, each, [rows[each]], None, write_id
            )
            replaced += deleted
        replace_rejects(conn, ACCOUNT_METRICS.name, account_key, day, rejects)
    return AccountDaysWritten(write_id=write_id, days=tuple(sorted(rows)), rows_replaced=replaced)
