"""``partitions_fresh`` end to end: one partition materialized from the served double, then the
check-only job judges every expected partition and materializes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.freshness import (
    FRESHNESS_TABLES,
    PARTITIONS_FRESH,
    freshness_job,
    tiktok_freshness_schedule,
    tiktok_partitions_fresh,
)
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.resources import TikTokConnectorResource

from .conftest import NOW, materialize

TODAY = NOW.date().isoformat()
RAW = ["tiktok_comments", "tiktok_users", "tiktok_videos"]


def _run_checks(
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    as_of: datetime | None = NOW,
) -> dg.ExecuteInProcessResult:
    # judge at the double's clock by default, the day the partition was materialized for
    config = {"as_of": as_of.isoformat()} if as_of else {}
    defs = dg.Definitions(
        assets=[*RAW_ASSETS, sl_mentions],
        asset_checks=[tiktok_partitions_fresh],
        jobs=[freshness_job],
        resources={"tiktok": resource},
    )
    return defs.resolve_job_def(freshness_job.name).execute_in_process(
        instance=instance,
        run_config={"ops": {"tiktok_partitions_fresh": {"config": config}}},
    )


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {
        e.asset_key.to_user_string(): e
        for e in result.get_asset_check_evaluations()
        if e.check_name == PARTITIONS_FRESH
    }


def _set(engine: sa.Engine, sql: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def test_check_job_passes_the_fresh_partition_and_lists_the_missing_ones(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
) -> None:
    add_account("brand", "business", "brand-open-id")
    # registered this morning by the double's clock: only today's partition is expected
    _set(
        engine,
        "UPDATE tiktok_accounts SET created_at = :t WHERE account_key = 'brand'",
        t=NOW - timedelta(hours=5),
    )
    assert materialize(instance, resource, "brand", TODAY).success
    # the write was recorded by the machine's clock; put it ten minutes before the double's
    _set(
        engine,
        "UPDATE tiktok_partition_writes SET written_at = :t",
        t=NOW - timedelta(minutes=10),
    )

    result = _run_checks(instance, resource)
    assert result.success
    assert result.get_asset_materialization_events() == []
    found = _evaluations(result)
    assert set(found) == set(FRESHNESS_TABLES)
    for table in RAW:
        assert found[table].passed, table
        assert found[table].metadata["stale_partitions"].value == 0
        assert found[table].metadata["expected_partitions"].value == 1
    mentions = found["sl_mentions"]
    assert not mentions.passed
    assert mentions.severity == dg.AssetCheckSeverity.WARN
    assert mentions.metadata["first_stale"].value == [f"brand|{TODAY}"]
    assert mentions.metadata["never_written"].value == 1

    # registered two days ago instead: the two past days of the lookback are missing
    _set(
        engine,
        "UPDATE tiktok_accounts SET created_at = :t WHERE account_key = 'brand'",
        t=NOW - timedelta(days=2),
    )
    found = _evaluations(_run_checks(instance, resource))
    for table in RAW:
        assert not found[table].passed, table
        assert found[table].metadata["first_stale"].value == [
            "brand|2026-11-09",
            "brand|2026-11-08",
        ]
    assert found["sl_mentions"].metadata["stale_partitions"].value == 3


def test_without_config_the_check_judges_now(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    add_account("brand", "business", "brand-open-id")
    before = datetime.now(UTC)
    found = _evaluations(_run_checks(instance, resource, as_of=None))
    assert set(found) == set(FRESHNESS_TABLES)
    for table, evaluation in found.items():
        # registered just now and never materialized: today's partition is missing
        assert not evaluation.passed, table
        assert datetime.fromisoformat(evaluation.metadata["as_of"].value) >= before
        stale = evaluation.metadata["first_stale"].value
        assert stale and all(key.startswith("brand|") for key in stale)


def test_check_job_selects_only_the_checks() -> None:
    from tiktok_etl.definitions import defs

    job = defs.resolve_job_def(freshness_job.name)
    assert job.asset_layer.selected_asset_keys == set()
    assert [node.name for node in job.nodes] == ["tiktok_partitions_fresh"]
    # and the partitioned ingest job leaves them out (its own checks stay)
    ingest = defs.resolve_job_def("tiktok_ingest")
    assert "tiktok_partitions_fresh" not in {node.name for node in ingest.nodes}
    assert "tiktok_users" in {node.name for node in ingest.nodes}


def test_an_as_of_without_offset_is_refused(
    instance: dg.DagsterInstance, resource: TikTokConnectorResource
) -> None:
    defs = dg.Definitions(
        asset_checks=[tiktok_partitions_fresh],
        assets=[*RAW_ASSETS, sl_mentions],
        jobs=[freshness_job],
        resources={"tiktok": resource},
    )
    with pytest.raises(dg.Failure, match="no UTC offset"):
        defs.resolve_job_def(freshness_job.name).execute_in_process(
            instance=instance,
            run_config={"ops": {"tiktok_partitions_fresh": {"config": {"as_of": "2026-11-10"}}}},
        )


def test_schedule_requests_one_check_run_per_tick() -> None:
    tick = datetime(2026, 11, 10, 15, 45, tzinfo=UTC)
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    request = tiktok_freshness_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == f"freshness@{tick.isoformat()}"
    assert tiktok_freshness_schedule.cron_schedule == "*/15 * * * *"
