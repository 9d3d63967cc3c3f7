"""Schedules, the accounts sync sensor and the accounts CLI, against a real database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from tiktok_etl.defs.accounts_sync import tiktok_accounts_sync_sensor
from tiktok_etl.defs.batch import partitions_of
from tiktok_etl.defs.partitions import ACCOUNTS_PARTITIONS_NAME
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.defs.schedules import tiktok_lookback_schedule, tiktok_today_schedule

TICK = datetime(2026, 11, 10, 12, 30, tzinfo=UTC)


def _requests(
    schedule: Any, instance: dg.DagsterInstance, resource: TikTokConnectorResource
) -> list[dg.RunRequest | dg.SkipReason]:
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=TICK, resources={"tiktok": resource}
    ) as context:
        return list(schedule(context))


def _keys(requests: list[Any]) -> list[str]:
    return sorted(p for r in requests if isinstance(r, dg.RunRequest) for p in partitions_of(r))


def test_today_schedule_requests_today_for_active_accounts_only(
    add_account: Callable[..., None],
    cli: Callable[..., Any],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    add_account("brand", "business", "brand-open-id")
    add_account("creator", "display", "creator-open-id")
    add_account("paused", "display", "paused-open-id")
    cli("accounts", "disable", "paused")
    requests = _requests(tiktok_today_schedule, instance, resource)
    assert _keys(requests) == ["brand|2026-11-10", "creator|2026-11-10"]
    assert len(requests) == 1  # one batch run for both (tiktok_etl_tests/defs/test_batch.py)
    assert all(r.run_key and TICK.isoformat() in r.run_key for r in requests)  # ticks apart
    assert all(r.tags["tiktok/schedule"] == "today" for r in requests)


def test_lookback_schedule_requests_the_configured_days(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    add_account("brand", "business", "brand-open-id")
    three_days = TikTokConnectorResource(**{**resource.model_dump(), "lookback_days": "3"})
    requests = _requests(tiktok_lookback_schedule, instance, three_days)
    assert _keys(requests) == ["brand|2026-11-07", "brand|2026-11-08", "brand|2026-11-09"]


def test_schedules_skip_with_a_reason_when_no_account_is_active(
    instance: dg.DagsterInstance, resource: TikTokConnectorResource
) -> None:
    (result,) = _requests(tiktok_today_schedule, instance, resource)
    assert isinstance(result, dg.SkipReason)
    assert "tiktok-etl accounts add" in (result.skip_message or "")


def test_accounts_sync_sensor_follows_the_table(
    add_account: Callable[..., None],
    cli: Callable[..., Any],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    add_account("brand", "business", "brand-open-id")
    add_account("creator", "display", "creator-open-id")
    # the instance lost track (for example, accounts added while Dagster was elsewhere)
    instance.delete_dynamic_partition(ACCOUNTS_PARTITIONS_NAME, "creator")
    instance.add_dynamic_partitions(ACCOUNTS_PARTITIONS_NAME, ["ghost"])
    with dg.build_sensor_context(instance=instance, resources={"tiktok": resource}) as context:
        result = tiktok_accounts_sync_sensor(context)
    assert isinstance(result, dg.SensorResult)
    requests = result.dynamic_partitions_requests or []
    added = [
        k
        for r in requests
        if isinstance(r, dg.AddDynamicPartitionsRequest)
        for k in r.partition_keys
    ]
    deleted = [
        k
        for r in requests
        if isinstance(r, dg.DeleteDynamicPartitionsRequest)
        for k in r.partition_keys
    ]
    assert (added, deleted) == (["creator"], ["ghost"])


def test_cli_registers_lists_disables_and_removes_accounts(
    add_account: Callable[..., None],
    cli: Callable[..., Any],
    instance: dg.DagsterInstance,
    project_env: dict[str, str],
) -> None:
    add_account("brand", "business", "brand-open-id", "--keywords", "acme, launch")
    assert "brand" in instance.get_dynamic_partitions(ACCOUNTS_PARTITIONS_NAME)
    listing = cli("accounts", "list").output
    assert "brand" in listing and "business" in listing and "acme,launch" in listing
    assert "act." not in listing and "rft." not in listing  # tokens are never printed
    cli("accounts", "keywords", "brand", "--keywords", "sale", "--keyword-mode", "filter")
    assert "sale" in cli("accounts", "list").output
    cli("accounts", "disable", "brand")
    assert "disabled" in cli("accounts", "list").output
    cli("accounts", "remove", "brand", "--yes")
    assert "no accounts" in cli("accounts", "list").output
    assert "brand" not in instance.get_dynamic_partitions(ACCOUNTS_PARTITIONS_NAME)
