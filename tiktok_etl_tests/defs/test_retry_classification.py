"""A step retries a lost database connection and fails once on a deterministic error."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date

import dagster as dg
import pytest
import sqlalchemy as sa

from tiktok_etl.defs.assets import tiktok_videos
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.tables import VIDEOS

DAY = date(2026, 11, 8)
LOCK = "tiktok_etl:partition:tiktok_videos:brand:2026-11-08"


def _context(
    instance: dg.DagsterInstance, resource: TikTokConnectorResource
) -> dg.AssetExecutionContext:
    return dg.build_asset_context(
        partition_key=dg.MultiPartitionKey({"account": "brand", "date": DAY.isoformat()}),
        resources={"tiktok": resource},
        instance=instance,
    )


def test_a_connection_lost_mid_write_is_retried(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
) -> None:
    add_account("brand", "business", "brand-open-id")
    failures: list[BaseException] = []

    def run() -> None:
        try:
            list(tiktok_videos(_context(instance, resource)))
        except BaseException as exc:
            failures.append(exc)

    with engine.connect() as holder:
        # the writer waits for the partition's lock, in its transaction: then its backend dies
        holder.execute(sa.text("SELECT pg_advisory_lock(hashtextextended(:n, 0))"), {"n": LOCK})
        worker = threading.Thread(target=run)
        worker.start()
        deadline = time.monotonic() + 60
        while True:
            pids = (
                holder.execute(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event = 'advisory' AND pid <> pg_backend_pid()"
                    )
                )
                .scalars()
                .all()
            )
            if pids:
                break
            assert worker.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        holder.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pids[0]})
        holder.execute(sa.text("SELECT pg_advisory_unlock_all()"))
        holder.commit()
        worker.join(timeout=60)

    (failure,) = failures
    assert isinstance(failure, dg.Failure) and failure.allow_retries
    assert "brand|2026-11-08" in (failure.description or "")
    assert read_partition(engine, VIDEOS, "brand", DAY) == []  # rolled back, nothing partial


def test_a_deterministic_database_error_fails_once_naming_the_partition(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
) -> None:
    add_account("brand", "business", "brand-open-id")
    with engine.begin() as conn:  # a table that refuses every row, every time
        conn.execute(
            sa.text("ALTER TABLE tiktok_videos ADD CONSTRAINT refuse CHECK (false) NOT VALID")
        )
    with pytest.raises(dg.Failure) as failure:
        list(tiktok_videos(_context(instance, resource)))
    assert not failure.value.allow_retries
    assert "tiktok_videos brand|2026-11-08" in (failure.value.description or "")
    assert "refuse" in (failure.value.description or "")
