"""The raw TikTok assets: ``tiktok_users``, ``tiktok_videos`` and ``tiktok_comments``.

Every asset follows the same steps (see :func:`_materialize`): resolve the partition's
account and day, fetch through the connector, write the partition to PostgreSQL (rows and
rejects in one transaction) and to Parquet, then check what landed. Re-running a partition
replaces it; a failure before the PostgreSQL commit leaves the previous data intact.
"""

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from tiktok_etl.defs.catalog import (
    BOTH_FAMILIES,
    ApiFamily,
    column_schema,
    qualified_table_name,
    table_catalog,
)
from tiktok_etl.defs.checks import CheckTarget, check_specs, combine_checks, partition_checks
from tiktok_etl.defs.failures import classified_failures
from tiktok_etl.defs.partitions import AccountDay, account_day_partitions
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.ingest.comments import fetch_comments
from tiktok_etl.ingest.fetched import FetchOutcome
from tiktok_etl.ingest.profile import fetch_profile
from tiktok_etl.ingest.sources import AccountSource
from tiktok_etl.ingest.videos import fetch_videos
from tiktok_etl.ingest.window import DayWindow
from tiktok_etl.runtime import Connector, Services
from tiktok_etl.storage.accounts import Account, AccountStore
from tiktok_etl.storage.tables import COMMENTS, USERS, VIDEOS, TableSpec

GROUP = "tiktok"
POOL = "tiktok_api"
KINDS = {"tiktok", "postgres", "parquet"}

# Transient trouble (see defs/failures.py) that outlasted the transport's own retries: try the
# step again later. Only Failures with allow_retries reach it: every body classifies its errors.
API_RETRY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
# backfill_policy is "beta" in Dagster 1.13; we measured it (README: Running at scale)
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")
# A backfill runs up to this many partitions in one run (one process) instead of one run each.
BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=30)

Fetch = Callable[[Services, AccountSource, DayWindow, datetime], FetchOutcome]

USERS_TARGET = CheckTarget(USERS, id_columns=("open_id",), time_column=None)
VIDEOS_TARGET = CheckTarget(VIDEOS, id_columns=("video_id",), time_column="create_time")
COMMENTS_TARGET = CheckTarget(
    COMMENTS, id_columns=("comment_id", "video_id"), time_column="create_time"
)


def active_account(accounts: AccountStore, account_key: str) -> Account:
    """The account, or a non-retryable failure that says how to make it usable again."""
    account = accounts.get(account_key)
    if account.status != "active":
        raise dg.Failure(
            description=(
                f"account {account.account_key!r} is {account.status}"
                + (f" ({account.status_reason})" if account.status_reason else "")
                + "; re-authorize it with `tiktok-etl auth login` or enable it before materializing"
            ),
            allow_retries=False,
        )
    return account


@dataclass
class PartitionWrite:
    """What one partition of one table received."""

    partition: AccountDay
    rows: int
    rejected: int
    replaced: int
    parquet_path: str
    checks: list[dg.AssetCheckResult]
    notes: dict[str, object]
    # the id both copies carry (``tiktok_partition_writes``, the Parquet file's metadata)
    write_id: str = ""


def materialize_one(
    services: Services,
    connector: Connector,
    target: CheckTarget,
    fetch: Fetch,
    ad: AccountDay,
) -> PartitionWrite:
    """Fetch, write and check one raw partition; the asset steps and the batch op share it.
    Failures come out as ``dg.Failure``, retryable only when transient."""
    with classified_failures(f"{target.spec.name} {ad.account_key}|{ad.day}"):
        return _write_one(services, connector, target, fetch, ad)


def _write_one(
    services: Services,
    connector: Connector,
    target: CheckTarget,
    fetch: Fetch,
    ad: AccountDay,
) -> PartitionWrite:
    account = active_account(services.accounts, ad.account_key)
    window = DayWindow.parse(ad.day)
    outcome = fetch(services, connector.source(account), window, datetime.now(UTC))
    written = services.writer.write(
        target.spec, ad.account_key, window.day, outcome.rows, rejects=outcome.reject_tuples()
    )
    return PartitionWrite(
        partition=ad,
        rows=len(outcome.rows),
        rejected=len(outcome.rejects),
        replaced=written.rows_replaced,
        parquet_path=written.parquet_path,
        checks=partition_checks(services, target, ad.account_key, window),
        notes=outcome.notes,
        write_id=written.write_id,
    )


def _materialize(
    context: dg.AssetExecutionContext,
    tiktok: TikTokConnectorResource,
    target: CheckTarget,
    fetch: Fetch,
) -> Iterator[dg.MaterializeResult]:
    """One partition, or every partition of a backfill range, in this step's process."""
    writes: list[PartitionWrite] = []
    with classified_failures(target.spec.name):
        services = tiktok.services()
        stats = _write_all(context, services, target, fetch, writes)
    metadata = partition_metadata(target.spec, writes)
    metadata.update(
        {
            "api_requests": stats["requests"],
            "api_pages": stats["pages"],
            "api_retries": stats["retries"],
            "api_rate_limited": stats["rate_limited"],
        }
    )
    yield dg.MaterializeResult(
        metadata=metadata, check_results=combine_checks([w.checks for w in writes])
    )


def _write_all(
    context: dg.AssetExecutionContext,
    services: Services,
    target: CheckTarget,
    fetch: Fetch,
    writes: list[PartitionWrite],
) -> dict[str, Any]:
    """Write every partition of the step into ``writes``; the step's API counters."""
    with services.connector() as connector:
        for ad in AccountDay.all_from_context(context):
            write = materialize_one(services, connector, target, fetch, ad)
            context.log.info(
                "%s %s|%s: %d rows, %d rejected",
                target.spec.name,
                ad.account_key,
                ad.day,
                write.rows,
                write.rejected,
            )
            writes.append(write)
        stats = connector.transport.stats.snapshot()
    return stats


def partition_metadata(spec: TableSpec, writes: list[PartitionWrite]) -> dict[str, Any]:
    """Materialization metadata for the partitions a step wrote (one, or a backfill range)."""
    rows = sum(w.rows for w in writes)
    metadata: dict[str, Any] = {
        "dagster/row_count": rows,
        "dagster/partition_row_count": rows,
        "dagster/table_name": qualified_table_name(spec.name),
        "dagster/column_schema": column_schema(spec.columns),
        "rows_replaced": sum(w.replaced for w in writes),
        "rejected_records": sum(w.rejected for w in writes),
        "partitions_written": len(writes),
    }
    if len(writes) == 1:
        metadata["parquet_path"] = dg.MetadataValue.path(writes[0].parquet_path)
        if writes[0].write_id:
            metadata["write_id"] = writes[0].write_id
        metadata.update(writes[0].notes)
    else:
        metadata["rows_by_partition"] = dg.MetadataValue.json(
            {f"{w.partition.account_key}|{w.partition.day}": w.rows for w in writes}
        )
    return metadata


def _asset(
    name: str,
    target: CheckTarget,
    description: str,
    *,
    pii: bool,
    api_families: tuple[ApiFamily, ...] = BOTH_FAMILIES,
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    return dg.asset(
        name=name,
        partitions_def=account_day_partitions,
        group_name=GROUP,
        kinds=KINDS,
        pool=POOL,
        retry_policy=API_RETRY,
        backfill_policy=BACKFILL,
        check_specs=check_specs(name, target, blocking=True),
        description=description,
        **table_catalog(target.spec, pii=pii, api_families=api_families),
    )


def fetch_profile_rows(
    _services: Services, source: AccountSource, window: DayWindow, now: datetime
) -> FetchOutcome:
    return fetch_profile(source, window, now)


def fetch_video_rows(
    _services: Services, source: AccountSource, window: DayWindow, now: datetime
) -> FetchOutcome:
    return fetch_videos(source, window, now)


@_asset(
    "tiktok_users",
    USERS_TARGET,
    "Daily profile snapshot of each connected account (followers, likes, videos, bio). "
    "Past days back-filled today carry today's values and say so in `fetched_at`.",
    pii=True,
)
def tiktok_users(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.MaterializeResult]:
    yield from _materialize(context, tiktok, USERS_TARGET, fetch_profile_rows)


@_asset(
    "tiktok_videos",
    VIDEOS_TARGET,
    "Videos each account published in the partition's UTC day, with their current metrics "
    "(and analytics fields for Business accounts). Re-materialize to refresh metrics.",
    pii=False,
)
def tiktok_videos(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.MaterializeResult]:
    yield from _materialize(context, tiktok, VIDEOS_TARGET, fetch_video_rows)


def fetch_comment_rows(
    services: Services, source: AccountSource, window: DayWindow, now: datetime
) -> FetchOutcome:
    return fetch_comments(
        source, window, services.comment_cache, now, workers=services.comment_workers
    )


@_asset(
    "tiktok_comments",
    COMMENTS_TARGET,
    "Comments and replies written in the partition's UTC day on any of the account's videos, "
    "old or new (Business accounts; Display accounts have no comment endpoint and stay empty).",
    pii=True,
    api_families=("business",),
)
def tiktok_comments(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.MaterializeResult]:
    yield from _materialize(context, tiktok, COMMENTS_TARGET, fetch_comment_rows)


RAW_ASSETS = [tiktok_users, tiktok_videos, tiktok_comments]
