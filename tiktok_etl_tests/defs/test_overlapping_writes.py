"""Two overlapping materializations of one partition leave one version in both copies.

The 30-minute schedule, the daily lookback and a backfill all re-materialize the same
partitions, so two runs of one partition overlap in production. Here they overlap for real:
run A is held after it has produced its Parquet bytes and before it publishes them, until
run B has either finished or is queued behind A on the partition's lock. Without that lock
around both copies, B's rows land in PostgreSQL and then A's stale file lands over B's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest
import sqlalchemy as sa

from tiktok_etl.defs.assets import RAW_ASSETS, tiktok_videos
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.storage import parquet, whole_files
from tiktok_etl.storage.checks import partition_counts
from tiktok_etl.storage.mentions_store import MENTIONS_TABLE, read_mentions
from tiktok_etl.storage.parquet import read_parquet_partition
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.tables import VIDEOS, TableSpec

from .conftest import materialize

DAY = date(2026, 11, 8)
# generous: only reached if the runs deadlock, never on a merely slow machine
DEADLINE_SECONDS = 180.0


def _lock_waiters(engine: sa.Engine) -> int:
    """Sessions of this database waiting for an advisory lock (a run queued on a partition)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"
                )
            ).scalar_one()
        )


class FirstPublishHeld:
    """Holds the first publish of one partition's file until the second run is done or waits."""

    def __init__(self, engine: sa.Engine, spec: TableSpec, account_key: str, day: date) -> None:
        self.engine = engine
        self.suffix = (
            f"/{spec.name}/account_key={account_key}/date={day.isoformat()}/part-0.parquet"
        )
        self.first_holding = threading.Event()
        self.second_done = threading.Event()
        self._publishes = 0
        self._count = threading.Lock()
        self._real = whole_files.writing_whole

    @contextmanager
    def writing_whole(self, store: whole_files.Store, path: str) -> Iterator[pa.NativeFile]:
        with self._real(store, path) as sink:
            yield sink  # every byte of the file is produced when this returns
            if path.endswith(self.suffix):
                with self._count:
                    self._publishes += 1
                    first = self._publishes == 1
                if first:
                    self.first_holding.set()
                    self._hold()

    def _hold(self) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not self.second_done.is_set() and _lock_waiters(self.engine) == 0:
            if time.monotonic() > deadline:
                raise AssertionError("the second run neither finished nor waited for the first")
            time.sleep(0.05)


def _overlap(
    held: FirstPublishHeld, run: Callable[[], dg.ExecuteInProcessResult]
) -> list[dg.ExecuteInProcessResult]:
    """Run A, and run B once A holds its finished file; both results, A's first."""
    results: dict[str, dg.ExecuteInProcessResult] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            results["a"] = run()
        except BaseException as exc:
            errors.append(exc)
        finally:
            held.first_holding.set()  # never leave the second run waiting on a failed first

    def second() -> None:
        try:
            if held.first_holding.wait(DEADLINE_SECONDS):
                results["b"] = run()
        except BaseException as exc:
            errors.append(exc)
        finally:
            held.second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return [results["a"], results["b"]]


def _write_ids(
    engine: sa.Engine, root: str, spec: TableSpec, id_column: str
) -> tuple[str | None, str | None]:
    """The write id PostgreSQL records for the partition, and the one in its Parquet file."""
    counts = partition_counts(
        engine,
        root,
        spec,
        id_columns=(id_column,),
        time_column=None,
        account_key="brand",
        day=DAY,
        start=None,  # type: ignore[arg-type]
        end=None,  # type: ignore[arg-type]
    )
    return counts.postgres_write_id, counts.parquet_write_id


def _rows_by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in rows}


@pytest.fixture
def held(
    monkeypatch: pytest.MonkeyPatch, engine: sa.Engine
) -> Callable[[TableSpec], FirstPublishHeld]:
    def hold(spec: TableSpec) -> FirstPublishHeld:
        gate = FirstPublishHeld(engine, spec, "brand", DAY)
        monkeypatch.setattr(parquet, "writing_whole", gate.writing_whole)
        return gate

    return hold


def test_overlapping_raw_runs_leave_postgres_and_parquet_at_the_same_write(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    project_env: dict[str, str],
    held: Callable[[TableSpec], FirstPublishHeld],
) -> None:
    add_account("brand", "business", "brand-open-id")
    gate = held(VIDEOS)

    results = _overlap(
        gate, lambda: materialize(instance, resource, "brand", DAY.isoformat(), [tiktok_videos])
    )

    assert all(r.success for r in results)
    root = project_env["TIKTOK_ETL_PARQUET_ROOT"]
    in_postgres = _rows_by(read_partition(engine, VIDEOS, "brand", DAY), "video_id")
    in_parquet = _rows_by(read_parquet_partition(root, VIDEOS, "brand", DAY), "video_id")
    assert in_postgres  # the day has videos, so a stale copy would show
    # every row, fetched_at included: each run stamps its own fetch time
    assert in_parquet == in_postgres
    postgres_id, parquet_id = _write_ids(engine, root, VIDEOS, "video_id")
    assert postgres_id is not None and parquet_id == postgres_id


def test_overlapping_mentions_runs_leave_postgres_and_parquet_at_the_same_write(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    project_env: dict[str, str],
    held: Callable[[TableSpec], FirstPublishHeld],
) -> None:
    add_account("brand", "business", "brand-open-id")
    assert materialize(instance, resource, "brand", DAY.isoformat(), RAW_ASSETS).success
    gate = held(MENTIONS_TABLE)

    results = _overlap(
        gate, lambda: materialize(instance, resource, "brand", DAY.isoformat(), [sl_mentions])
    )

    assert all(r.success for r in results)
    root = project_env["TIKTOK_ETL_PARQUET_ROOT"]
    in_postgres = _rows_by(read_mentions(engine, "brand", DAY), "external_id")
    in_parquet = _rows_by(read_parquet_partition(root, MENTIONS_TABLE, "brand", DAY), "external_id")
    assert in_postgres
    # every column, updated_at included: each upsert stamps its own time
    assert in_parquet == in_postgres
    postgres_id, parquet_id = _write_ids(engine, root, MENTIONS_TABLE, "external_id")
    assert postgres_id is not None and parquet_id == postgres_id
