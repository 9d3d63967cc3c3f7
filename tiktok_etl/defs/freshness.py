"""``partitions_fresh``: a per-partition freshness check on each partitioned asset, run by a
schedule every 15 minutes without materializing anything.

The judgement (which ``account|day`` partitions are stale, and why) is
:func:`tiktok_etl.storage.freshness.partition_freshness`; this module wires it to Dagster: one
``multi_asset_check`` (one query for all four assets), a job that selects only these checks
and the schedule that runs it. A failure is a WARN: it never blocks a run, it shows in the UI
on the asset with the count and the first stale keys.
"""

# no `from __future__ import annotations`: Dagster resolves the config class from the
# function's real annotation

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.storage.freshness import PAST_MAX_AGE, TODAY_MAX_AGE, TableFreshness
from tiktok_etl.storage.freshness import partition_freshness as judge
from tiktok_etl.storage.mentions_store import MENTIONS_TABLE
from tiktok_etl.storage.tables import RAW_TABLES

PARTITIONS_FRESH = "partitions_fresh"
# the judged tables, each also the key of its asset
FRESHNESS_TABLES: tuple[str, ...] = (*(spec.name for spec in RAW_TABLES), MENTIONS_TABLE.name)
# stale keys listed in a result's metadata; the count covers them all
LISTED_STALE = 20


class FreshnessConfig(dg.Config):
    """``as_of``: judge as of this ISO-8601 time (with offset) instead of now, e.g. to see
    what was stale during an incident."""

    as_of: str | None = None


def _as_of(config: FreshnessConfig) -> datetime:
    if not config.as_of:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(config.as_of)
    if moment.tzinfo is None:
        raise dg.Failure(
            f"as_of {config.as_of!r} has no UTC offset; write it like 2026-11-10T15:30:00+00:00"
        )
    return moment


def freshness_result(judged: TableFreshness, as_of: datetime) -> dg.AssetCheckResult:
    """The check's result for one table: WARN when a partition is stale."""
    metadata: dict[str, Any] = {
        "stale_partitions": len(judged.stale),
        "expected_partitions": judged.expected,
        "first_stale": dg.MetadataValue.json([p.key for p in judged.stale[:LISTED_STALE]]),
        "never_written": sum(1 for p in judged.stale if p.written_at is None),
        "as_of": as_of.isoformat(),
    }
    return dg.AssetCheckResult(
        asset_key=judged.table,
        check_name=PARTITIONS_FRESH,
        passed=judged.fresh,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


_DESCRIPTION = (
    "every expected partition of an active account is fresh: today's written within "
    f"{TODAY_MAX_AGE}, each day of the lookback within {PAST_MAX_AGE}; older days are final"
)


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(PARTITIONS_FRESH, asset=table, blocking=False, description=_DESCRIPTION)
        for table in FRESHNESS_TABLES
    ],
    description="Per-partition freshness of the account-by-day assets",
)
def tiktok_partitions_fresh(
    config: FreshnessConfig, tiktok: TikTokConnectorResource
) -> Iterator[dg.AssetCheckResult]:
    as_of = _as_of(config)
    settings = tiktok.settings()
    judged = judge(
        tiktok.runtime.engine,
        FRESHNESS_TABLES,
        now=as_of,
        lookback_days=settings.lookback_days,
        start_date=settings.start_date,
    )
    for table in FRESHNESS_TABLES:
        yield freshness_result(judged[table], as_of)


# selects the checks only: running it evaluates them and materializes nothing
freshness_job = dg.define_asset_job(
    "tiktok_freshness_checks",
    selection=dg.AssetSelection.checks(tiktok_partitions_fresh),
    description="Judge every partition's freshness (no materialization).",
)


@dg.schedule(
    job=freshness_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    description="Run the partitions_fresh checks every 15 minutes.",
)
def tiktok_freshness_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    scheduled = context.scheduled_execution_time
    tick = scheduled.astimezone(UTC) if scheduled else datetime.now(UTC)
    return dg.RunRequest(run_key=f"freshness@{tick.isoformat()}")
