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

import dagster as dg

from tiktok_etl.api import (
    IncompleteListing,
    RateLimited,
    ServerError,
    TikTokError,
    TransportError,
)
from tiktok_etl.defs.checks import CheckTarget, check_specs, combine_checks, partition_checks
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

# Transient API trouble that outlasted the transport's own retries: try the step again later.
API_RETRY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
# backfill_policy is "beta" in Dagster 1.13; we measured it (README: Running at scale)
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")
# the errors worth retrying the step for; scope, token and parameter errors are not
TRANSIENT = (RateLimited, ServerError, TransportError, IncompleteListing)
# A backfill runs up to this many partitions in one run (one process) instead of one run each.
BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=30)

Fetch = Callable[[Services, AccountSource, DayWindow, datetime], FetchOutcome]

USERS_TARGET = CheckTarget(USERS, id_columns=("open_id",), time_column=None)
VIDEOS_TARGET = CheckTarget(VIDEOS, id_columns=("video_id",), time_column="create_time")
COMMENTS_TARGET = CheckTarget(
    COMMENTS, id_columns=("comment_id", "video_id"), time_column="create_time"
)


def column_schema(spec: TableSpec) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name, c.pg_type, constraints=dg.TableColumnConstraints(nullable=c.nullable)
            )
            for c in spec.columns
        ]
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


def _materialize_one(
    services: Services,
    connector: Connector,
    target: CheckTarget,
    fetch: Fetch,
    ad: AccountDay,
) -> PartitionWrite:
    account = active_account(services.accounts, ad.account_key)
    window = DayWindow.parse(ad.day)
    try:
        outcome = fetch(services, connector.source(account), window, datetime.now(UTC))
    except TikTokError as exc:  # typed, token-free messages: safe to surface as-is
        raise dg.Failure(
            description=f"{ad.account_key}|{ad.day}: {type(exc).__name__}: {exc}",
            allow_retries=isinstance(exc, TRANSIENT),
        ) from exc
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
    )


def _materialize(
    context: dg.AssetExecutionContext,
    tiktok: TikTokConnectorResource,
    target: CheckTarget,
    fetch: Fetch,
) -> Iterator[dg.MaterializeResult]:
    """One partition, or every partition of a backfill range, in this step's process."""
    writes: list[PartitionWrite] = []
    services = tiktok.services()
    with services.connector() as connector:
        for ad in AccountDay.all_from_context(context):
            write = _materialize_one(services, connector, target, fetch, ad)
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


def partition_metadata(spec: TableSpec, writes: list[PartitionWrite]) -> dict[str, object]:
    """Materialization metadata for the partitions a step wrote (one, or a backfill range)."""
    rows = sum(w.rows for w in writes)
    metadata: dict[str, object] = {
        "dagster/row_count": rows,
        "dagster/partition_row_count": rows,
        "dagster/table_name": f"public.{spec.name}",
        "dagster/column_schema": column_schema(spec),
        "rows_replaced": sum(w.replaced for w in writes),
        "rejected_records": sum(w.rejected for w in writes),
        "partitions_written": len(writes),
    }
    if len(writes) == 1:
        metadata["parquet_path"] = dg.MetadataValue.path(writes[0].parquet_path)
        metadata.update(writes[0].notes)
    else:
        metadata["rows_by_partition"] = dg.MetadataValue.json(
            {f"{w.partition.account_key}|{w.partition.day}": w.rows for w in writes}
        )
    return metadata


def _asset(name: str, target: CheckTarget, description: str):  # type: ignore[no-untyped-def]
    return dg.asset(
        name=name,
        partitions_def=account_day_partitions,
        group_name=GROUP,
        kinds=KINDS,
        pool=POOL,
        retry_policy=API_RETRY,
        backfill_policy=BACKFILL,
        check_specs=check_specs(name, target),
        description=description,
        metadata={"dagster/table_name": f"public.{target.spec.name}"},
    )


@_asset(
    "tiktok_users",
    USERS_TARGET,
    "Daily profile snapshot of each connected account (followers, likes, videos, bio). "
    "Past days back-filled today carry today's values and say so in `fetched_at`.",
)
def tiktok_users(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.MaterializeResult]:
    yield from _materialize(
        context, tiktok, USERS_TARGET, lambda _t, src, w, now: fetch_profile(src, w, now)
    )


@_asset(
    "tiktok_videos",
    VIDEOS_TARGET,
    "Videos each account published in the partition's UTC day, with their current metrics "
    "(and analytics fields for Business accounts). Re-materialize to refresh metrics.",
)
def tiktok_videos(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.MaterializeResult]:
    yield from _materialize(
        context, tiktok, VIDEOS_TARGET, lambda _t, src, w, now: fetch_videos(src, w, now)
    )


def _fetch_comments(
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
)
def tiktok_comments(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.MaterializeResult]:
    yield from _materialize(context, tiktok, COMMENTS_TARGET, _fetch_comments)


RAW_ASSETS = [tiktok_users, tiktok_videos, tiktok_comments]
