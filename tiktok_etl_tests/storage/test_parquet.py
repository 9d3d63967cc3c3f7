from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tiktok_etl.storage.parquet import (
    HIVE_PARTITIONING_SCHEMA,
    count_parquet_partition,
    file_schema,
    parquet_partition_exists,
    partition_path,
    read_parquet_partition,
    to_arrow,
    write_parquet_partition,
)
from tiktok_etl.storage.tables import COMMENTS, USERS, VIDEOS
from tiktok_etl_tests.storage.sample_rows import (
    AWKWARD_TEXTS,
    DAY,
    comment_row,
    user_row,
    video_row,
)

HIVE = ds.partitioning(HIVE_PARTITIONING_SCHEMA, flavor="hive")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_layout_is_hive_partitioned_by_account_and_date(tmp_path: Path) -> None:
    path = write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, [video_row("v1")])
    assert path == f"{tmp_path}/tiktok_videos/account_key=acme/date=2026-11-05/part-0.parquet"
    assert path == partition_path(str(tmp_path), VIDEOS, "acme", DAY)
    assert _files(tmp_path) == ["tiktok_videos/account_key=acme/date=2026-11-05/part-0.parquet"]


def test_files_hold_every_column_but_the_partition_columns(tmp_path: Path) -> None:
    path = write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, [video_row("v1")])
    schema = pq.read_schema(path)
    assert schema.names == [c for c in VIDEOS.column_names if c not in ("account_key", "date")]
    assert schema.equals(file_schema(VIDEOS))
    assert schema.field("create_time").type == pa.timestamp("us", tz="UTC")
    assert schema.field("raw").type == pa.string()


def test_round_trip_restores_rows_with_partition_columns_and_json(tmp_path: Path) -> None:
    rows = [video_row("v1"), video_row("v2", title="t", raw={"nested": {"a": [1, 2]}})]
    write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, rows)
    stored = read_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY)
    expected = [{**{c: None for c in VIDEOS.column_names}, **row} for row in rows]
    assert stored == expected
    assert count_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY) == 2


def test_awkward_text_round_trips(tmp_path: Path) -> None:
    rows = [comment_row(f"c{i}", text=t, raw={"t": t}) for i, t in enumerate(AWKWARD_TEXTS)]
    rows.append(comment_row("nul", text="a\x00b\ud800", raw={"t": "\x00"}))
    write_parquet_partition(str(tmp_path), COMMENTS, "acme", DAY, rows)
    read = read_parquet_partition(str(tmp_path), COMMENTS, "acme", DAY)
    stored = {r["comment_id"]: r for r in read}
    for i, text in enumerate(AWKWARD_TEXTS):
        assert stored[f"c{i}"]["text"] == text
        assert stored[f"c{i}"]["raw"] == {"t": text}
    # cleaned exactly as for PostgreSQL
    assert stored["nul"]["text"] == "ab\ufffd"
    assert stored["nul"]["raw"] == {"t": ""}


def test_rewrite_replaces_the_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, [video_row("v1"), video_row("v2")])
    write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, [video_row("v3")])
    stored = read_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY)
    assert [r["video_id"] for r in stored] == ["v3"]
    assert _files(tmp_path) == ["tiktok_videos/account_key=acme/date=2026-11-05/part-0.parquet"]


def test_empty_partition_writes_an_empty_file_replacing_stale_data(tmp_path: Path) -> None:
    write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, [video_row("v1")])
    path = write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, [])
    assert pq.read_table(path).num_rows == 0
    assert pq.read_schema(path).equals(file_schema(VIDEOS))
    assert parquet_partition_exists(str(tmp_path), VIDEOS, "acme", DAY)
    assert count_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY) == 0


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, [video_row("v1")])
    before = Path(path).read_bytes()
    with pytest.raises(TypeError, match="like_count"):
        write_parquet_partition(
            str(tmp_path), VIDEOS, "acme", DAY, [video_row("v2", like_count="many")]
        )
    with pytest.raises(ValueError, match="duplicate key"):
        write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, [video_row("v2")] * 2)
    assert Path(path).read_bytes() == before
    assert _files(tmp_path) == ["tiktok_videos/account_key=acme/date=2026-11-05/part-0.parquet"]


def test_failed_rename_removes_the_temporary_file(tmp_path: Path) -> None:
    path = Path(partition_path(str(tmp_path), VIDEOS, "acme", DAY))
    # a directory where the file should go makes the rename fail after the file is written
    path.mkdir(parents=True)
    with pytest.raises(OSError):
        write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, [video_row("v2")])
    assert [p.name for p in path.parent.iterdir()] == ["part-0.parquet"]
    assert path.is_dir()


def test_missing_partition_reads_as_empty(tmp_path: Path) -> None:
    assert read_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY) == []
    assert count_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY) == 0
    assert not parquet_partition_exists(str(tmp_path), VIDEOS, "acme", DAY)


def test_root_may_be_a_file_url(tmp_path: Path) -> None:
    root = f"file://{tmp_path}"
    path = write_parquet_partition(root, USERS, "acme", DAY, [user_row()])
    assert path == f"{root}/tiktok_users/account_key=acme/date=2026-11-05/part-0.parquet"
    assert (tmp_path / "tiktok_users/account_key=acme/date=2026-11-05/part-0.parquet").is_file()
    assert read_parquet_partition(root, USERS, "acme", DAY)[0]["username"] == "acme"


def _write_two_accounts_two_days(root: Path) -> None:
    next_day = DAY + timedelta(days=1)
    write_parquet_partition(str(root), VIDEOS, "acme", DAY, [video_row("v1"), video_row("v2")])
    write_parquet_partition(str(root), VIDEOS, "acme", next_day, [video_row("v3", day=next_day)])
    write_parquet_partition(
        str(root), VIDEOS, "42", DAY, [video_row("v4", account_key="42", like_count=None)]
    )


def test_pyarrow_reads_the_dataset_with_hive_partitioning(tmp_path: Path) -> None:
    _write_two_accounts_two_days(tmp_path)
    table = ds.dataset(tmp_path / "tiktok_videos", format="parquet", partitioning=HIVE).to_table()
    rows = sorted(table.to_pylist(), key=lambda r: r["video_id"])
    assert [(r["account_key"], r["date"], r["video_id"]) for r in rows] == [
        ("acme", DAY, "v1"),
        ("acme", DAY, "v2"),
        ("acme", DAY + timedelta(days=1), "v3"),
        ("42", DAY, "v4"),
    ]
    assert table.schema.field("create_time").type == pa.timestamp("us", tz="UTC")
    assert rows[3]["like_count"] is None
    # plain "hive" discovery works too (types inferred from the paths)
    inferred = ds.dataset(tmp_path / "tiktok_videos", format="parquet", partitioning="hive")
    assert inferred.count_rows() == 4


def test_duckdb_reads_the_dataset_with_hive_partitioning(tmp_path: Path) -> None:
    _write_two_accounts_two_days(tmp_path)
    glob = f"{tmp_path}/tiktok_videos/*/*/*.parquet"
    con = duckdb.connect()
    rows = con.execute(
        "SELECT account_key, date, video_id, like_count, create_time, raw->>'id' "
        "FROM read_parquet(?, hive_partitioning = true, "
        "hive_types = {'account_key': VARCHAR, 'date': DATE}) ORDER BY video_id",
        [glob],
    ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("acme", DAY, "v1", 10),
        ("acme", DAY, "v2", 10),
        ("acme", DAY + timedelta(days=1), "v3", 10),
        ("42", DAY, "v4", None),
    ]
    assert rows[0][4] == video_row("v1")["create_time"]
    assert rows[0][5] == "v1"
    types = dict(
        con.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
            "read_parquet(?, hive_partitioning = true))",
            [glob],
        ).fetchall()
    )
    assert types["date"] == "DATE"
    assert types["create_time"] == "TIMESTAMP WITH TIME ZONE"
    assert types["view_count"] == "BIGINT"
    assert types["width"] == "INTEGER"
    # one name per column: the Parquet copy has exactly the PostgreSQL table's columns
    assert sorted(types) == sorted(VIDEOS.column_names)


def test_to_arrow_keeps_the_full_schema(tmp_path: Path) -> None:
    table = to_arrow(VIDEOS, [video_row("v1")])
    assert table.schema.equals(VIDEOS.arrow_schema())
    assert table.column("raw").to_pylist() == ['{"id":"v1","like_count":10}']
    assert to_arrow(VIDEOS, []).num_rows == 0
