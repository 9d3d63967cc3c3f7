"""Bad input and interrupted runs: nothing is lost, nothing is duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date

import dagster as dg
import pytest
import sqlalchemy as sa

from tiktok_etl.defs.assets import tiktok_videos
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.sandbox import FaultConfig, SandboxApp
from tiktok_etl.storage.parquet import read_parquet_partition
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.rejects import read_rejects
from tiktok_etl.storage.tables import COMMENTS, VIDEOS

from .conftest import materialize

DAY = date(2026, 11, 8)

_MATERIALIZE_SCRIPT = """
import dagster as dg
from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.resources import resource_from_environment
with dg.DagsterInstance.get() as instance:
    dg.materialize(
        RAW_ASSETS,
        partition_key=dg.MultiPartitionKey({"account": "brand", "date": "2026-11-08"}),
        instance=instance,
        resources={"tiktok": resource_from_environment()},
    )
"""


def _comment_ids(engine: sa.Engine) -> list[str]:
    return sorted(r["comment_id"] for r in read_partition(engine, COMMENTS, "brand", DAY))


def test_a_run_killed_mid_way_and_rerun_gives_the_exact_result(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    project_env: dict[str, str],
) -> None:
    add_account("brand", "business", "brand-open-id")
    sandbox_app.set_faults(FaultConfig(latency=0.01))
    env = {**os.environ, **project_env, "TIKTOK_ETL_COMMENT_WORKERS": "2"}
    proc = subprocess.Popen([sys.executable, "-c", _MATERIALIZE_SCRIPT], env=env)
    deadline = time.monotonic() + 60
    while sandbox_app.stats.snapshot()["requests_total"] < 40:
        assert proc.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    sandbox_app.set_faults(FaultConfig())

    assert materialize(instance, resource, "brand", DAY.isoformat()).success
    truth = sorted(c["comment_id"] for c in sandbox_app.world.comments("brand-open-id", DAY))
    assert _comment_ids(engine) == truth
    videos = sorted(v["item_id"] for v in sandbox_app.world.business_videos("brand-open-id", DAY))
    assert sorted(r["video_id"] for r in read_partition(engine, VIDEOS, "brand", DAY)) == videos
    root = project_env["TIKTOK_ETL_PARQUET_ROOT"]
    assert sorted(
        r["comment_id"] for r in read_parquet_partition(root, COMMENTS, "brand", DAY)
    ) == (truth)


def test_a_failed_partition_leaves_the_previous_data_intact(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> None:
    add_account("brand", "business", "brand-open-id")
    assert materialize(instance, resource, "brand", DAY.isoformat()).success
    before = read_partition(engine, VIDEOS, "brand", DAY)
    assert before

    sandbox_app.set_faults(FaultConfig(rate_5xx=1.0))  # TikTok is down for good
    impatient = TikTokConnectorResource(**{**resource.model_dump(), "max_retry_seconds": "1"})
    # invoked directly: the step's retry policy (minutes apart) is Dagster's business
    context = dg.build_asset_context(
        partition_key=dg.MultiPartitionKey({"account": "brand", "date": DAY.isoformat()}),
        resources={"tiktok": impatient},
        instance=instance,
    )
    with pytest.raises(dg.Failure, match="ServerError") as failure:
        list(tiktok_videos(context))
    assert failure.value.allow_retries  # transient: Dagster's retry policy will try again
    assert read_partition(engine, VIDEOS, "brand", DAY) == before


def test_malformed_records_land_in_the_rejects_table(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> None:
    sandbox_app.world.malformed_ratio = 0.3  # the served double starts sending broken records
    add_account("brand", "business", "brand-open-id")
    result = materialize(instance, resource, "brand", DAY.isoformat())
    assert result.success
    rejects = read_rejects(engine, "tiktok_videos", account_key="brand", day=DAY)
    meta = result.asset_materializations_for_node("tiktok_videos")[0].metadata
    assert meta["rejected_records"].value == len(rejects)
    assert rejects, "the double was told to send malformed videos"
    assert all(r.reason and r.payload for r in rejects)


def test_a_disabled_account_fails_with_an_actionable_message(
    add_account: Callable[..., None],
    cli: Callable[..., object],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    add_account("brand", "business", "brand-open-id")
    cli("accounts", "disable", "brand")
    result = materialize(instance, resource, "brand", DAY.isoformat())
    assert not result.success
    failure = next(
        e for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ).step_failure_data.error
    assert "disabled" in failure.message and "brand" in failure.message


@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_invalid_rate_limit_fails_naming_the_variable(value: str) -> None:
    from tiktok_etl.settings import ConfigError, Settings

    with pytest.raises(ConfigError, match="TIKTOK_ETL_RATE_LIMIT_PER_MINUTE"):
        Settings.from_env({"TIKTOK_ETL_RATE_LIMIT_PER_MINUTE": value})
