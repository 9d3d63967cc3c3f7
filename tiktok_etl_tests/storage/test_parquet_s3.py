"""The Parquet copy on an object store: a real S3 API (moto in server mode on 127.0.0.1).

The process reaches the store exactly as a deployment does: ``s3://bucket/...`` as the root
and the standard AWS variables in the environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL_S3``, ``AWS_REGION``),
nothing passed in code. Buckets are versioned, so a test sees every object ever written
and deleted, not only what is left at the end.

DuckDB reads the dataset through pyarrow's S3 filesystem (``duckdb.from_arrow``): its
``httpfs`` extension is a download, which a test without network cannot make.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from stat import S_ISDIR
from typing import Any

import boto3
import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from tiktok_etl.storage.parquet import (
    HIVE_PARTITIONING_SCHEMA,
    count_parquet_partition,
    file_schema,
    parquet_partition_exists,
    partition_path,
    read_parquet_partition,
    to_arrow,
    write_parquet_batches,
    write_parquet_partition,
)
from tiktok_etl.storage.tables import VIDEOS
from tiktok_etl_tests.storage.sample_rows import DAY, video_row

HIVE = ds.partitioning(HIVE_PARTITIONING_SCHEMA, flavor="hive")
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "eu-west-1"
FINAL_KEY = "lake/tiktok_videos/account_key=acme/date=2026-11-05/part-0.parquet"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server on a free local port, for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass(frozen=True)
class Bucket:
    name: str
    client: Any

    @property
    def root(self) -> str:
        return f"s3://{self.name}/lake"

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.name)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def history(self) -> list[tuple[str, str]]:
        """Every object version and delete marker the bucket has seen, as (key, kind)."""
        listing = self.client.list_object_versions(Bucket=self.name)
        versions = [(v["Key"], "version") for v in listing.get("Versions", [])]
        markers = [(m["Key"], "delete marker") for m in listing.get("DeleteMarkers", [])]
        return sorted(versions + markers)

    def read(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.name, Key=key)["Body"].read())


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The variables an operator sets for an S3-compatible store (and nothing else)."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_REGION", REGION)
    return s3_endpoint


@pytest.fixture
def bucket(s3_env: str) -> Bucket:
    """A fresh versioned bucket."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_env,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )
    name = f"tiktok-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return Bucket(name, client)


def _local_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _video_ids(root: str) -> list[str]:
    return [r["video_id"] for r in read_parquet_partition(root, VIDEOS, "acme", DAY)]


def _failing_batches(fail_after: int) -> Iterator[pa.Table]:
    """Good batches, then the failure of whatever produces them (a query, a bug, a kill)."""
    for i in range(fail_after):
        yield to_arrow(VIDEOS, [video_row(f"new{i}")])
    raise RuntimeError("injected failure mid-write")


# -- writing through the project's own functions


def test_write_and_read_back_an_s3_partition(bucket: Bucket) -> None:
    rows = [video_row("v1"), video_row("v2", raw={"nested": {"a": [1, 2]}})]
    path = write_parquet_partition(bucket.root, VIDEOS, "acme", DAY, rows)
    assert path == f"{bucket.root}/tiktok_videos/account_key=acme/date=2026-11-05/part-0.parquet"
    assert path == partition_path(bucket.root, VIDEOS, "acme", DAY)
    stored = read_parquet_partition(bucket.root, VIDEOS, "acme", DAY)
    assert stored == [{**{c: None for c in VIDEOS.column_names}, **row} for row in rows]
    assert count_parquet_partition(bucket.root, VIDEOS, "acme", DAY) == 2
    assert parquet_partition_exists(bucket.root, VIDEOS, "acme", DAY)


def test_each_write_puts_one_object_at_its_final_key_and_nothing_else(bucket: Bucket) -> None:
    # no temporary object, no copy, no "directory" marker: a write is one PUT of the whole file
    write_parquet_partition(bucket.root, VIDEOS, "acme", DAY, [video_row("v1"), video_row("v2")])
    write_parquet_partition(bucket.root, VIDEOS, "acme", DAY, [video_row("v3")])
    assert bucket.history() == [(FINAL_KEY, "version")] * 2
    assert bucket.keys() == [FINAL_KEY]
    assert _video_ids(bucket.root) == ["v3"]


def test_overwrite_leaves_no_stale_objects(bucket: Bucket) -> None:
    next_day = DAY + timedelta(days=1)
    write_parquet_partition(bucket.root, VIDEOS, "acme", DAY, [video_row("v1"), video_row("v2")])
    write_parquet_partition(bucket.root, VIDEOS, "acme", next_day, [video_row("v9", day=next_day)])
    write_parquet_partition(bucket.root, VIDEOS, "acme", DAY, [video_row("v3")])
    assert bucket.keys() == [
        FINAL_KEY,
        "lake/tiktok_videos/account_key=acme/date=2026-11-06/part-0.parquet",
    ]
    assert _video_ids(bucket.root) == ["v3"]


def test_empty_partition_writes_an_empty_object_replacing_stale_data(bucket: Bucket) -> None:
    write_parquet_partition(bucket.root, VIDEOS, "acme", DAY, [video_row("v1")])
    write_parquet_partition(bucket.root, VIDEOS, "acme", DAY, [])
    assert bucket.keys() == [FINAL_KEY]
    assert parquet_partition_exists(bucket.root, VIDEOS, "acme", DAY)
    assert count_parquet_partition(bucket.root, VIDEOS, "acme", DAY) == 0
    assert read_parquet_partition(bucket.root, VIDEOS, "acme", DAY) == []
    filesystem, path = pafs.FileSystem.from_uri(partition_path(bucket.root, VIDEOS, "acme", DAY))
    assert pq.read_schema(path, filesystem=filesystem).equals(file_schema(VIDEOS))


def test_endpoint_may_come_from_aws_endpoint_url_s3(
    bucket: Bucket, s3_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_env)
    write_parquet_partition(bucket.root, VIDEOS, "acme", DAY, [video_row("v1")])
    assert bucket.keys() == [FINAL_KEY]
    assert _video_ids(bucket.root) == ["v1"]


# -- a write is whole or absent, on both kinds of store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Callable[[], list[str]]]:
    """A Parquet root and a listing of every file (object) under it."""
    if request.param == "local":
        return str(tmp_path), lambda: _local_files(tmp_path)
    s3_bucket: Bucket = request.getfixturevalue("bucket")
    return s3_bucket.root, s3_bucket.keys


def _final_bytes(root: str) -> bytes:
    final = partition_path(root, VIDEOS, "acme", DAY)
    if "://" not in final:
        return Path(final).read_bytes()
    filesystem, path = pafs.FileSystem.from_uri(final)
    with filesystem.open_input_stream(path) as handle:
        return bytes(handle.read())


def test_a_write_failing_midway_leaves_the_previous_file_and_nothing_else(
    store: tuple[str, Callable[[], list[str]]],
) -> None:
    root, listing = store
    write_parquet_partition(root, VIDEOS, "acme", DAY, [video_row("v1"), video_row("v2")])
    before, files_before = _final_bytes(root), listing()
    with pytest.raises(RuntimeError, match="injected failure"):
        write_parquet_batches(root, VIDEOS, "acme", DAY, _failing_batches(fail_after=2))
    assert _final_bytes(root) == before
    assert listing() == files_before
    assert _video_ids(root) == ["v1", "v2"]


def test_a_failed_write_on_s3_never_touches_the_bucket(bucket: Bucket) -> None:
    write_parquet_partition(bucket.root, VIDEOS, "acme", DAY, [video_row("v1")])
    history = bucket.history()
    with pytest.raises(RuntimeError, match="injected failure"):
        write_parquet_batches(bucket.root, VIDEOS, "acme", DAY, _failing_batches(fail_after=1))
    with pytest.raises(TypeError, match="like_count"):
        write_parquet_partition(
            bucket.root, VIDEOS, "acme", DAY, [video_row("v2", like_count="many")]
        )
    # no partial object at the final key, and no temporary one created and deleted elsewhere
    assert bucket.history() == history


def test_a_first_write_failing_midway_leaves_no_object(bucket: Bucket) -> None:
    with pytest.raises(RuntimeError, match="injected failure"):
        write_parquet_batches(bucket.root, VIDEOS, "acme", DAY, _failing_batches(fail_after=1))
    assert bucket.history() == []
    assert not parquet_partition_exists(bucket.root, VIDEOS, "acme", DAY)


def test_local_write_fsyncs_the_file_before_the_rename_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, Any]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        stat = os.fstat(fd)
        events.append(("fsync", (stat.st_ino, S_ISDIR(stat.st_mode))))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append(("replace", (os.stat(src).st_ino, dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    path = write_parquet_partition(str(tmp_path), VIDEOS, "acme", DAY, [video_row("v1")])
    inode, directory = os.stat(path).st_ino, os.stat(Path(path).parent).st_ino
    assert events == [
        ("fsync", (inode, False)),
        ("replace", (inode, path)),
        ("fsync", (directory, True)),
    ]


# -- reading the dataset back with lakehouse readers


def _write_two_accounts_two_days(root: str) -> None:
    next_day = DAY + timedelta(days=1)
    write_parquet_partition(root, VIDEOS, "acme", DAY, [video_row("v1"), video_row("v2")])
    write_parquet_partition(root, VIDEOS, "acme", next_day, [video_row("v3", day=next_day)])
    write_parquet_partition(
        root, VIDEOS, "42", DAY, [video_row("v4", account_key="42", like_count=None)]
    )


EXPECTED = [
    ("acme", DAY, "v1", 10),
    ("acme", DAY, "v2", 10),
    ("acme", DAY + timedelta(days=1), "v3", 10),
    ("42", DAY, "v4", None),
]


def test_pyarrow_reads_the_s3_dataset_with_hive_partitioning(bucket: Bucket) -> None:
    _write_two_accounts_two_days(bucket.root)
    dataset = ds.dataset(f"{bucket.root}/tiktok_videos", format="parquet", partitioning=HIVE)
    rows = sorted(dataset.to_table().to_pylist(), key=lambda r: r["video_id"])
    assert [(r["account_key"], r["date"], r["video_id"], r["like_count"]) for r in rows] == EXPECTED
    assert dataset.schema.field("create_time").type == pa.timestamp("us", tz="UTC")


def test_duckdb_reads_the_s3_dataset_through_arrow(bucket: Bucket) -> None:
    _write_two_accounts_two_days(bucket.root)
    dataset = ds.dataset(f"{bucket.root}/tiktok_videos", format="parquet", partitioning=HIVE)
    videos = duckdb.from_arrow(dataset.to_table())
    rows = videos.query(
        "videos",
        "SELECT account_key, date, video_id, like_count, raw->>'id' FROM videos ORDER BY video_id",
    ).fetchall()
    assert [r[:4] for r in rows] == EXPECTED
    assert [r[4] for r in rows] == ["v1", "v2", "v3", "v4"]
    types = {r[0]: r[1] for r in videos.query("videos", "DESCRIBE videos").fetchall()}
    assert types["account_key"] == "VARCHAR"
    assert types["date"] == "DATE"
    assert types["create_time"] == "TIMESTAMP WITH TIME ZONE"
