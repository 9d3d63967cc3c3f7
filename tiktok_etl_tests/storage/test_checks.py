"""The counts the data-quality checks judge, from what a partition holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from tiktok_etl.storage.checks import PartitionCounts, partition_counts
from tiktok_etl.storage.parquet import write_parquet_partition
from tiktok_etl.storage.partitions import write_partition
from tiktok_etl.storage.tables import USERS, VIDEOS
from tiktok_etl_tests.storage.sample_rows import DAY, user_row, video_row

START = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
END = START + timedelta(days=1)


def video_counts(engine: sa.Engine, root: str, account_key: str = "acme") -> PartitionCounts:
    return partition_counts(
        engine,
        root,
        VIDEOS,
        id_columns=("video_id",),
        time_column="create_time",
        account_key=account_key,
        day=DAY,
        start=START,
        end=END,
    )


def test_counts_rows_outside_the_window_in_postgres_and_rows_in_parquet(
    engine: sa.Engine, tmp_path: Path
) -> None:
    rows = [
        video_row("v1"),
        video_row("v2", create_time=END),
        video_row("v3", create_time=START - timedelta(seconds=1)),
    ]
    write_partition(engine, VIDEOS, "acme", DAY, rows)
    write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, rows[:2])

    assert video_counts(engine, str(tmp_path)) == PartitionCounts(
        duplicate_keys=0,
        rows_missing_ids=0,
        rows_outside_window=2,
        postgres_rows=3,
        parquet_rows=2,
    )


def test_counts_only_the_partition_asked_for(engine: sa.Engine, tmp_path: Path) -> None:
    write_partition(engine, VIDEOS, "other", DAY, [video_row("v1", account_key="other")])

    assert video_counts(engine, str(tmp_path)) == PartitionCounts(0, 0, 0, 0, 0)


def test_a_table_without_a_time_column_has_no_window_count(
    engine: sa.Engine, tmp_path: Path
) -> None:
    write_partition(engine, USERS, "acme", DAY, [user_row()])

    counts = partition_counts(
        engine,
        str(tmp_path),
        USERS,
        id_columns=("open_id",),
        time_column=None,
        account_key="acme",
        day=DAY,
        start=START,
        end=END,
    )

    assert counts.rows_outside_window is None
    assert (counts.postgres_rows, counts.parquet_rows) == (1, 0)
