"""Broken raw data keeps ``sl_mentions`` of its partition from being built, end to end.

The broken data is real: the served double's videos go through the client and the writer,
but one row of the broken day is given a ``create_time`` a day later before it is written,
so PostgreSQL holds a row outside its partition's day, which the raw table's
``timestamps_in_partition_window`` check finds. Asset runs rely on Dagster's blocking
checks (the failed check fails the raw step, so the run skips ``sl_mentions``); the batch
job, one step for many partitions, gates each partition itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from tiktok_etl.defs import assets
from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.batch import batch_run_config
from tiktok_etl.defs.checks import IN_WINDOW
from tiktok_etl.defs.jobs import batch_job
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.partitions import AccountDay
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.ingest.fetched import FetchOutcome
from tiktok_etl.storage.mentions_store import read_mentions
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.tables import VIDEOS

from .conftest import materialize

BROKEN = date(2026, 11, 8)
CLEAN = date(2026, 11, 9)


@pytest.fixture
def broken_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """Videos of ``BROKEN`` are written with one ``create_time`` outside the day."""
    fetch = assets.fetch_videos

    def fetch_with_a_stray_row(source: Any, window: Any, now: datetime) -> FetchOutcome:
        outcome = fetch(source, window, now)
        if window.day == BROKEN and outcome.rows:
            first = dict(outcome.rows[0])
            first["create_time"] = first["create_time"] + timedelta(days=1)
            return replace(outcome, rows=[first, *outcome.rows[1:]])
        return outcome

    monkeypatch.setattr(assets, "fetch_videos", fetch_with_a_stray_row)


def _key(day: date) -> str:
    return f"brand|{day.isoformat()}"


def _materialized(instance: dg.DagsterInstance, asset: str, day: date) -> bool:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[_key(day)]),
        limit=1,
    ).records
    return bool(records)


def _failed_checks(result: dg.ExecuteInProcessResult) -> set[tuple[str, str]]:
    return {
        (e.asset_key.to_user_string(), e.check_name)
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }


def test_a_partition_with_broken_raw_data_gets_no_sl_mentions_in_its_run(
    broken_day: None,
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
) -> None:
    add_account("brand", "business", "brand-open-id")
    everything = [*RAW_ASSETS, sl_mentions]

    broken = materialize(instance, resource, "brand", BROKEN.isoformat(), everything)
    clean = materialize(instance, resource, "brand", CLEAN.isoformat(), everything)

    # the broken data landed and its check says so; sl_mentions' step never ran
    assert not broken.success
    assert _failed_checks(broken) == {("tiktok_videos", IN_WINDOW)}
    assert read_partition(engine, VIDEOS, "brand", BROKEN)
    assert _materialized(instance, "tiktok_videos", BROKEN)
    started = {e.step_key for e in broken.all_events if e.is_step_start}
    assert started == {"tiktok_users", "tiktok_videos", "tiktok_comments"}
    assert not _materialized(instance, "sl_mentions", BROKEN)
    assert read_mentions(engine, "brand", BROKEN) == []
    # the other assets of the broken partition, and the clean partition, are built
    assert _materialized(instance, "tiktok_comments", BROKEN)
    assert clean.success
    assert _failed_checks(clean) == set()
    assert _materialized(instance, "sl_mentions", CLEAN)
    assert read_mentions(engine, "brand", CLEAN)


def test_the_batch_job_builds_sl_mentions_of_clean_partitions_only(
    broken_day: None,
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
) -> None:
    add_account("brand", "business", "brand-open-id")
    days = [CLEAN, BROKEN]

    result = batch_job.execute_in_process(
        run_config=batch_run_config([AccountDay("brand", d.isoformat()) for d in days]),
        instance=instance,
        resources={"tiktok": resource},
        raise_on_error=False,
    )

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "1 of 2 partitions failed" in message
    assert f"sl_mentions of {_key(BROKEN)} not built" in message
    assert f"tiktok_videos.{IN_WINDOW}" in message
    assert _materialized(instance, "tiktok_videos", BROKEN)
    assert not _materialized(instance, "sl_mentions", BROKEN)
    assert read_mentions(engine, "brand", BROKEN) == []
    assert _materialized(instance, "sl_mentions", CLEAN)
    assert read_mentions(engine, "brand", CLEAN)
