"""Folders ``account=<key>`` of earlier releases become ``account_key=<key>``, locally and on S3."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tiktok_etl.runtime import open_runtime
from tiktok_etl.settings import Settings
from tiktok_etl.storage.parquet import read_parquet_partition, write_parquet_partition
from tiktok_etl.storage.parquet_layout import PARQUET_TABLES, rename_account_folders
from tiktok_etl.storage.tables import VIDEOS
from tiktok_etl.storage.whole_files import StoreKind, open_store
from tiktok_etl_tests.storage.sample_rows import DAY, video_row
from tiktok_etl_tests.storage.test_parquet_s3 import Bucket, bucket, s3_endpoint, s3_env

__all__ = ["bucket", "s3_endpoint", "s3_env"]  # fixtures shared with the S3 tests


def _old_layout(root: str, account_key: str, video_ids: list[str]) -> None:
    """A partition as an earlier release wrote it: the same file under ``account=``."""
    rows = [video_row(v, account_key=account_key) for v in video_ids]
    write_parquet_partition(root, VIDEOS, account_key, DAY, rows)
    store = open_store(root)
    new = f"{store.base}/tiktok_videos/account_key={account_key}/date={DAY}/part-0.parquet"
    old = new.replace("/account_key=", "/account=")
    if store.kind is StoreKind.LOCAL:
        store.filesystem.create_dir(old.rsplit("/", 1)[0], recursive=True)
    store.filesystem.move(new, old)
    # pyarrow keeps an emptied S3 "folder" as a marker object: remove it like the folder
    store.filesystem.delete_dir(new.rsplit("/", 2)[0])


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_old_folders_are_renamed_once_and_readers_see_account_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = str(tmp_path)
    _old_layout(root, "acme", ["v1", "v2"])
    _old_layout(root, "42", ["v3"])
    assert _files(tmp_path) == [
        "tiktok_videos/account=42/date=2026-11-05/part-0.parquet",
        "tiktok_videos/account=acme/date=2026-11-05/part-0.parquet",
    ]
    with caplog.at_level(logging.INFO, logger="tiktok_etl.storage.parquet_layout"):
        assert rename_account_folders(root) == 2
    assert len(caplog.records) == 2
    assert _files(tmp_path) == [
        "tiktok_videos/account_key=42/date=2026-11-05/part-0.parquet",
        "tiktok_videos/account_key=acme/date=2026-11-05/part-0.parquet",
    ]
    assert [r["video_id"] for r in read_parquet_partition(root, VIDEOS, "acme", DAY)] == [
        "v1",
        "v2",
    ]
    rows = duckdb.sql(
        f"SELECT account_key, count(*) FROM read_parquet('{root}/tiktok_videos/*/*/*.parquet', "
        "hive_partitioning = true, hive_types = {'account_key': VARCHAR, 'date': DATE}) "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert rows == [("42", 1), ("acme", 2)]
    assert rename_account_folders(root) == 0


def test_a_file_already_under_the_new_name_wins(tmp_path: Path) -> None:
    root = str(tmp_path)
    _old_layout(root, "acme", ["stale"])
    write_parquet_partition(root, VIDEOS, "acme", DAY, [video_row("fresh")])
    assert rename_account_folders(root) == 1
    assert _files(tmp_path) == ["tiktok_videos/account_key=acme/date=2026-11-05/part-0.parquet"]
    assert [r["video_id"] for r in read_parquet_partition(root, VIDEOS, "acme", DAY)] == ["fresh"]


def test_a_leftover_temporary_file_is_dropped_not_moved(tmp_path: Path) -> None:
    root = str(tmp_path)
    _old_layout(root, "acme", ["v1"])
    leftover = tmp_path / "tiktok_videos/account=acme/date=2026-11-05/.part-0.parquet.tmp"
    leftover.write_bytes(b"half")
    assert rename_account_folders(root) == 1
    assert _files(tmp_path) == ["tiktok_videos/account_key=acme/date=2026-11-05/part-0.parquet"]


def test_every_table_with_a_parquet_copy_is_upgraded() -> None:
    assert set(PARQUET_TABLES) == {
        "tiktok_users",
        "tiktok_videos",
        "tiktok_comments",
        "sl_mentions",
    }


def test_a_missing_root_has_nothing_to_rename(tmp_path: Path) -> None:
    assert rename_account_folders(str(tmp_path / "not-yet")) == 0


def _objects(bucket: Bucket) -> list[str]:
    """The bucket's files, without the empty "folder" markers pyarrow leaves behind."""
    listed = bucket.keys()
    return [key for key in listed if not key.endswith("/")]


def test_old_folders_on_s3_are_renamed(bucket: Bucket) -> None:
    _old_layout(bucket.root, "acme", ["v1", "v2"])
    assert _objects(bucket) == ["lake/tiktok_videos/account=acme/date=2026-11-05/part-0.parquet"]
    assert rename_account_folders(bucket.root) == 1
    assert _objects(bucket) == [
        "lake/tiktok_videos/account_key=acme/date=2026-11-05/part-0.parquet"
    ]
    rows = read_parquet_partition(bucket.root, VIDEOS, "acme", DAY)
    assert [r["video_id"] for r in rows] == ["v1", "v2"]
    assert rename_account_folders(bucket.root) == 0


def test_starting_a_process_renames_the_old_folders(engine: sa.Engine, tmp_path: Path) -> None:
    root = str(tmp_path / "parquet")
    _old_layout(root, "acme", ["v1"])
    settings = Settings.from_env(
        {
            "TIKTOK_ETL_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "TIKTOK_ETL_TOKEN_KEY": Fernet.generate_key().decode(),
            "TIKTOK_ETL_HOME": str(tmp_path / "home"),
            "TIKTOK_ETL_PARQUET_ROOT": root,
        }
    )
    open_runtime(settings)
    assert _files(tmp_path / "parquet") == [
        "tiktok_videos/account_key=acme/date=2026-11-05/part-0.parquet"
    ]
