"""Scheduled ticks in few runs: many account-days per run, each partition on its own record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.event_api import PartitionKeyFilter

from tiktok_etl.defs.batch import partitions_of
from tiktok_etl.defs.checks import check_specs
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.defs.schedules import tiktok_lookback_schedule, tiktok_today_schedule
from tiktok_etl.sandbox import SandboxApp
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.tables import COMMENTS, VIDEOS

from .conftest import NOW

ASSETS = ["tiktok_users", "tiktok_videos", "tiktok_comments", "sl_mentions"]
TODAY = NOW.date().isoformat()
# key, family, open id
ACCOUNTS = [
    ("brand_a", "business", "brand-a-open-id"),
    ("brand_b", "business", "brand-b-open-id"),
    ("creator_a", "display", "creator-a-open-id"),
    ("creator_b", "display", "creator-b-open-id"),
    ("creator_c", "display", "creator-c-open-id"),
]


def _tick(
    schedule: Any, instance: dg.DagsterInstance, resource: TikTokConnectorResource
) -> list[dg.RunRequest]:
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=NOW, resources={"tiktok": resource}
    ) as context:
        requests = list(schedule(context))
    assert all(isinstance(r, dg.RunRequest) for r in requests), requests
    return requests


def _run(
    schedule: Any,
    request: dg.RunRequest,
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> dg.ExecuteInProcessResult:
    return schedule.job.execute_in_process(
        run_config=request.run_config,
        instance=instance,
        resources={"tiktok": resource},
        tags=request.tags,
        raise_on_error=False,
    )


def _materialization(instance: dg.DagsterInstance, asset: str, partition: str) -> Any:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]),
        limit=1,
    ).records
    return records[0].asset_materialization if records else None


def _truth_ids(sandbox_app: SandboxApp, family: str, open_id: str, day: date) -> dict[str, Any]:
    world = sandbox_app.world
    if family == "business":
        return {
            "videos": sorted(v["item_id"] for v in world.business_videos(open_id, day)),
            "comments": sorted(c["comment_id"] for c in world.comments(open_id, day)),
        }
    return {"videos": sorted(v["id"] for v in world.videos(open_id, day)), "comments": []}


def _landed_ids(engine: sa.Engine, key: str, day: date) -> dict[str, Any]:
    return {
        "videos": sorted(r["video_id"] for r in read_partition(engine, VIDEOS, key, day)),
        "comments": sorted(r["comment_id"] for r in read_partition(engine, COMMENTS, key, day)),
    }


def test_a_tick_for_five_accounts_is_one_run_with_each_partition_on_its_own_record(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> None:
    for key, family, open_id in ACCOUNTS:
        add_account(key, family, open_id)
    (request,) = _tick(tiktok_today_schedule, instance, resource)
    assert sorted(partitions_of(request)) == sorted(f"{k}|{TODAY}" for k, _, _ in ACCOUNTS)

    result = _run(tiktok_today_schedule, request, instance, resource)
    assert result.success
    day = NOW.date()
    for key, family, open_id in ACCOUNTS:
        assert _landed_ids(engine, key, day) == _truth_ids(sandbox_app, family, open_id, day)

    evaluations = instance.all_logs(
        result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )
    assert len(result.get_asset_materialization_events()) == len(ACCOUNTS) * len(ASSETS)
    for key, _, _ in ACCOUNTS:
        partition = f"{key}|{TODAY}"
        for asset in ASSETS:
            materialization = _materialization(instance, asset, partition)
            assert materialization is not None, (asset, partition)
            meta = materialization.metadata
            assert meta["partitions_written"].value == 1
            assert meta["dagster/row_count"].value == meta["dagster/partition_row_count"].value
            assert "parquet_path" in meta
            if asset in ("tiktok_users", "tiktok_videos"):  # display accounts read no comments
                assert meta["api_requests"].value >= 1
            checks = {
                e.get_dagster_event().asset_check_evaluation_data.check_name
                for e in evaluations
                if e.get_dagster_event().asset_check_evaluation_data.partition == partition
                and e.get_dagster_event().asset_check_evaluation_data.asset_key
                == dg.AssetKey(asset)
            }
            assert checks == {s.name for s in _specs(asset)}, (asset, partition)
    # each partition's check history is readable on its own, tied to its materialization
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("tiktok_videos"), "unique_natural_keys"),
        limit=10,
        partition_filter=PartitionKeyFilter(key=f"brand_a|{TODAY}"),
    )
    assert len(history) == 1
    assert history[0].status.value == "SUCCEEDED"
    assert history[0].evaluation is not None
    assert history[0].evaluation.target_materialization_data is not None


def _specs(asset: str) -> list[dg.AssetCheckSpec]:
    from tiktok_etl.defs.assets import COMMENTS_TARGET, USERS_TARGET, VIDEOS_TARGET
    from tiktok_etl.defs.mentions import MENTIONS_TARGET

    targets = {
        "tiktok_users": USERS_TARGET,
        "tiktok_videos": VIDEOS_TARGET,
        "tiktok_comments": COMMENTS_TARGET,
        "sl_mentions": MENTIONS_TARGET,
    }
    return check_specs(asset, targets[asset])


def test_the_batch_size_setting_splits_a_tick_into_ceil_n_over_size_runs(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    for key, family, open_id in ACCOUNTS:
        add_account(key, family, open_id)
    two = TikTokConnectorResource(**{**resource.model_dump(), "batch_size": "2"})
    requests = _tick(tiktok_today_schedule, instance, two)
    assert [len(partitions_of(r)) for r in requests] == [2, 2, 1]
    assert len({r.run_key for r in requests}) == 3
    every = sorted(p for r in requests for p in partitions_of(r))
    assert every == sorted(f"{k}|{TODAY}" for k, _, _ in ACCOUNTS)


def test_one_failing_account_does_not_stop_the_others(
    cli: Callable[..., Any],
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> None:
    for key, family, open_id in ACCOUNTS[1:]:
        add_account(key, family, open_id)
    # the first account's tokens are revoked in the double after registration
    key, family, open_id = ACCOUNTS[0]
    body = sandbox_app.issue_tokens(open_id, family)
    cli(
        "accounts", "add", "--key", key, "--api", family, "--open-id", open_id,
        "--access-token", body["access_token"], "--refresh-token", body["refresh_token"],
        "--expires-in", str(body["expires_in"]), "--scopes", body.get("scope", ""),
    )  # fmt: skip
    sandbox_app.tokens.revoke(body["access_token"], family)

    (request,) = _tick(tiktok_today_schedule, instance, resource)
    result = _run(tiktok_today_schedule, request, instance, resource)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message if failure.step_failure_data.error else ""
    assert f"{key}|{TODAY}" in message
    assert "1 of 5 partitions failed" in message

    day = NOW.date()
    for other, other_family, other_id in ACCOUNTS[1:]:
        assert _landed_ids(engine, other, day) == _truth_ids(
            sandbox_app, other_family, other_id, day
        )
        for asset in ASSETS:
            assert _materialization(instance, asset, f"{other}|{TODAY}") is not None
    for asset in ASSETS:
        assert _materialization(instance, asset, f"{key}|{TODAY}") is None


def test_an_account_added_after_a_tick_is_in_the_next(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    add_account("brand_a", "business", "brand-a-open-id")
    (first,) = _tick(tiktok_today_schedule, instance, resource)
    assert partitions_of(first) == [f"brand_a|{TODAY}"]
    add_account("creator_a", "display", "creator-a-open-id")
    (second,) = _tick(tiktok_today_schedule, instance, resource)
    assert sorted(partitions_of(second)) == [f"brand_a|{TODAY}", f"creator_a|{TODAY}"]


def test_the_lookback_batches_every_account_day_newest_first_per_account(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    for key, family, open_id in ACCOUNTS:
        add_account(key, family, open_id)
    sized = TikTokConnectorResource(
        **{**resource.model_dump(), "lookback_days": "3", "batch_size": "3"}
    )
    requests = _tick(tiktok_lookback_schedule, instance, sized)
    assert len(requests) == 2
    first = partitions_of(requests[0])
    # an account's days stay together in one run, newest first (older days reuse its cache)
    assert first[:3] == ["brand_a|2026-11-09", "brand_a|2026-11-08", "brand_a|2026-11-07"]
    assert len(first) == 9 and len(partitions_of(requests[1])) == 6
    assert all(r.tags["tiktok/schedule"] == "lookback" for r in requests)


@pytest.mark.parametrize("schedule", [tiktok_today_schedule, tiktok_lookback_schedule])
def test_schedules_launch_the_batch_job(schedule: Any) -> None:
    assert schedule.job_name == "tiktok_batch"


def test_a_step_retry_attempts_only_the_partitions_that_did_not_land(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tiktok_etl.api import TransportError
    from tiktok_etl.defs import batch

    for key, family, open_id in ACCOUNTS:
        add_account(key, family, open_id)
    # the network fails once under one account's videos read; everything else works
    failed: list[str] = []

    def flaky_once(services: Any, source: Any, window: Any, now: Any) -> Any:
        if source.account.account_key == "creator_b" and not failed:
            failed.append("creator_b")
            raise TransportError("/v2/video/list/", "connection reset")
        return videos_fetch(services, source, window, now)

    (users, (videos_key, videos_target, videos_fetch), comments) = batch.RAW_STEPS
    monkeypatch.setattr(
        batch, "RAW_STEPS", (users, (videos_key, videos_target, flaky_once), comments)
    )

    @dg.job(executor_def=dg.in_process_executor)
    def retried() -> None:  # the schedule's job, with an immediate retry for the test
        batch.tiktok_batch_ingest.with_retry_policy(dg.RetryPolicy(max_retries=1))()

    (request,) = _tick(tiktok_today_schedule, instance, resource)
    result = retried.execute_in_process(
        run_config=request.run_config, instance=instance, resources={"tiktok": resource}
    )
    assert failed == ["creator_b"]
    assert result.success
    landed = [
        (e.asset_key.to_user_string() if e.asset_key else "", e.partition)
        for e in result.get_asset_materialization_events()
    ]
    # every asset-partition exactly once: the retry did not redo what the first attempt landed
    assert sorted(landed) == sorted((a, f"{k}|{TODAY}") for k, _, _ in ACCOUNTS for a in ASSETS)
    key, family, open_id = ACCOUNTS[3]
    assert _landed_ids(engine, key, NOW.date()) == _truth_ids(
        sandbox_app, family, open_id, NOW.date()
    )
