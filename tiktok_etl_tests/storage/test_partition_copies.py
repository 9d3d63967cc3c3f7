"""A partition write stamps one id on both copies, and a failed copy leaves the previous write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tiktok_etl.storage import parquet
from tiktok_etl.storage.checks import partition_counts
from tiktok_etl.storage.mentions_store import MENTIONS_TABLE
from tiktok_etl.storage.parquet import parquet_partition_footer, read_parquet_partition
from tiktok_etl.storage.partition_copies import (
    recorded_write_id,
    write_mention_copies,
    write_partition_copies,
)
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.tables import VIDEOS
from tiktok_etl_tests.storage.sample_rows import DAY, video_row

START = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)


def _write_ids(engine: sa.Engine, root: str) -> tuple[str | None, str | None]:
    counts = partition_counts(
        engine,
        root,
        VIDEOS,
        id_columns=("video_id",),
        time_column="create_time",
        account_key="acme",
        day=DAY,
        start=START,
        end=START + timedelta(days=1),
    )
    return counts.postgres_write_id, counts.parquet_write_id


def test_a_write_records_its_id_in_postgres_and_in_the_parquet_file(
    engine: sa.Engine, tmp_path: Path
) -> None:
    root = str(tmp_path)
    written = write_partition_copies(engine, root, VIDEOS, "acme", DAY, [video_row("v1")])

    assert recorded_write_id(engine, VIDEOS.name, "acme", DAY) == written.write_id
    footer = parquet_partition_footer(root, VIDEOS, "acme", DAY)
    assert (footer.write_id, footer.rows) == (written.write_id, 1)
    assert _write_ids(engine, root) == (written.write_id, written.write_id)
    with engine.connect() as conn:
        row_count = conn.execute(
            sa.text("SELECT row_count FROM tiktok_partition_writes WHERE write_id = :w"),
            {"w": written.write_id},
        ).scalar_one()
    assert row_count == 1


def test_each_write_gets_a_new_id(engine: sa.Engine, tmp_path: Path) -> None:
    root = str(tmp_path)
    first = write_partition_copies(engine, root, VIDEOS, "acme", DAY, [video_row("v1")])
    second = write_partition_copies(engine, root, VIDEOS, "acme", DAY, [video_row("v1")])

    assert first.write_id != second.write_id
    assert _write_ids(engine, root) == (second.write_id, second.write_id)


def test_a_parquet_failure_leaves_both_copies_at_the_previous_write(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(tmp_path)
    before = write_partition_copies(engine, root, VIDEOS, "acme", DAY, [video_row("v1")])

    def broken(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr("tiktok_etl.storage.partition_copies.write_parquet_partition", broken)
    with pytest.raises(OSError, match="disk full"):
        write_partition_copies(
            engine, root, VIDEOS, "acme", DAY, [video_row("v1"), video_row("v2")]
        )

    assert [r["video_id"] for r in read_partition(engine, VIDEOS, "acme", DAY)] == ["v1"]
    assert [r["video_id"] for r in read_parquet_partition(root, VIDEOS, "acme", DAY)] == ["v1"]
    assert _write_ids(engine, root) == (before.write_id, before.write_id)


def test_a_file_from_another_write_is_seen_even_when_the_counts_match(
    engine: sa.Engine, tmp_path: Path
) -> None:
    root = str(tmp_path)
    written = write_partition_copies(engine, root, VIDEOS, "acme", DAY, [video_row("v1")])
    # a stale run's file, same row count, published over the current one
    parquet.write_parquet_partition(
        root, VIDEOS, "acme", DAY, [video_row("v1", like_count=3)], write_id="stale"
    )

    assert _write_ids(engine, root) == (written.write_id, "stale")


def test_mentions_copies_carry_one_write_id(engine: sa.Engine, tmp_path: Path) -> None:
    root = str(tmp_path)
    written = write_mention_copies(engine, root, "acme", DAY, [])

    footer = parquet_partition_footer(root, MENTIONS_TABLE, "acme", DAY)
    assert recorded_write_id(engine, MENTIONS_TABLE.name, "acme", DAY) == written.write_id
    assert (footer.write_id, footer.rows) == (written.write_id, 0)
