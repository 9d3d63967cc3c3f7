"""The metric-history assets: ``tiktok_video_metrics`` and ``tiktok_account_metrics``.

Both are partitioned like the raw assets (account x UTC day), run in the API pool under the
API retry policy, and go through the same per-partition step in asset runs and in the
scheduled batch (:func:`snapshot_one`, :func:`account_metrics_one`). The partition of day D
is what was observed while D was today: materializing another day observes nothing, leaves
the partition as it is and says so in the metadata (see :mod:`tiktok_etl.ingest.metrics`).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import dagster as dg

from tiktok_etl.defs.assets import (
    API_RETRY,
    BACKFILL,
    GROUP,
    KINDS,
    POOL,
    active_account,
    column_schema,
)
from tiktok_etl.defs.catalog import table_catalog
from tiktok_etl.defs.failures import classified_failures
from tiktok_etl.defs.partitions import AccountDay, account_day_partitions
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.ingest import metrics as observed
from tiktok_etl.runtime import Connector, Services
from tiktok_etl.settings import Settings
from tiktok_etl.storage.metrics_tables import ACCOUNT_METRICS, VIDEO_BREAKDOWNS, VIDEO_METRICS
from tiktok_etl.storage.tables import TableSpec, qualified_name


@dataclass
class MetricsWrite:
    """What one partition of a metrics asset received (nothing when not observable)."""

    partition: AccountDay
    observed: bool
    rows: int = 0
    rejected: int = 0
    replaced: int = 0
    notes: dict[str, Any] = field(default_factory=dict)


MetricsStep = Callable[[Services, Connector, AccountDay, datetime], MetricsWrite]


def snapshot_one(
    services: Services, connector: Connector, ad: AccountDay, now: datetime
) -> MetricsWrite:
    """Snapshot the account's tracked videos into the partition of today, and carry the
    snapshot into ``sl_mentions``."""
    with classified_failures(f"{VIDEO_METRICS.name} {ad.account_key}|{ad.day}"):
        account = active_account(services.accounts, ad.account_key)
        day = date.fromisoformat(ad.day)
        source = connector.source(account)
        snapshot = observed.fetch_video_snapshot(source, day, now, services.metrics_max_age_days)
        if not snapshot.observed:
            return MetricsWrite(ad, observed=False, notes=snapshot.notes)
        written = services.metrics_writer.snapshot(
            ad.account_key,
            day,
            metrics=snapshot.metrics,
            breakdowns=snapshot.breakdowns,
            rejects=[(r.payload, r.reason, r.kind) for r in snapshot.rejects],
            breakdown_rejects=[(r.payload, r.reason, r.kind) for r in snapshot.breakdown_rejects],
        )
    notes = snapshot.notes | {
        "breakdown_rows": written.breakdowns,
        "breakdown_rejects": len(snapshot.breakdown_rejects),
        "mentions_refreshed": written.mentions_refreshed,
        "parquet_path": dg.MetadataValue.path(written.parquet_path),
        "write_id": written.write_id,
    }
    return MetricsWrite(
        ad,
        observed=True,
        rows=written.videos,
        rejected=len(snapshot.rejects) + len(snapshot.breakdown_rejects),
        replaced=written.rows_replaced,
        notes=notes,
    )


def account_metrics_one(
    services: Services, connector: Connector, ad: AccountDay, now: datetime
) -> MetricsWrite:
    """Today's account metrics (Display: the profile snapshot; Business: every day of the
    ~60 TikTok still returns, which the first run back-fills)."""
    with classified_failures(f"{ACCOUNT_METRICS.name} {ad.account_key}|{ad.day}"):
        account = active_account(services.accounts, ad.account_key)
        day = date.fromisoformat(ad.day)
        days = observed.fetch_account_metrics(connector.source(account), day, now)
        if not days.observed:
            return MetricsWrite(ad, observed=False, notes=days.notes)
        written = services.metrics_writer.account_days(
            ad.account_key, day, days.rows, [(r.payload, r.reason, r.kind) for r in days.rejects]
        )
    notes = days.notes | {"snapshot_taken_at": now.isoformat(), "write_id": written.write_id}
    return MetricsWrite(
        ad,
        observed=True,
        rows=len(written.days),
        rejected=len(days.rejects),
        replaced=written.rows_replaced,
        notes=notes,
    )


def metrics_metadata(spec: TableSpec, writes: list[MetricsWrite]) -> dict[str, Any]:
    """Materialization metadata; a partition that observed nothing says why instead of
    reporting a row count."""
    metadata: dict[str, Any] = {
        "dagster/table_name": qualified_name(spec, Settings.from_env()),
        "dagster/column_schema": column_schema(spec.columns),
        "partitions_written": sum(w.observed for w in writes),
        "partitions_not_observable": sum(not w.observed for w in writes),
    }
    if any(w.observed for w in writes):
        metadata["dagster/row_count"] = sum(w.rows for w in writes)
        metadata["rows_replaced"] = sum(w.replaced for w in writes)
        metadata["rejected_records"] = sum(w.rejected for w in writes)
    if len(writes) == 1:
        metadata.update(writes[0].notes)
    else:
        metadata["rows_by_partition"] = dg.MetadataValue.json(
            {
                f"{w.partition.account_key}|{w.partition.day}": w.rows if w.observed else None
                for w in writes
            }
        )
    return metadata


def _materialize(
    context: dg.AssetExecutionContext,
    tiktok: TikTokConnectorResource,
    spec: TableSpec,
    step: MetricsStep,
) -> Iterator[dg.MaterializeResult]:
    writes: list[MetricsWrite] = []
    with classified_failures(spec.name):
        services = tiktok.services()
        with services.connector() as connector:
            for ad in AccountDay.all_from_context(context):
                write = step(services, connector, ad, observed.observation_time())
                context.log.info(
                    "%s %s|%s: %s",
                    spec.name,
                    ad.account_key,
                    ad.day,
                    f"{write.rows} rows" if write.observed else "not observable, left as is",
                )
                writes.append(write)
            stats = connector.transport.stats.snapshot()
    metadata = metrics_metadata(spec, writes)
    metadata.update({"api_requests": stats["requests"], "api_pages": stats["pages"]})
    yield dg.MaterializeResult(metadata=metadata)


def _metrics_asset(
    name: str, spec: TableSpec, description: str
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    return dg.asset(
        name=name,
        partitions_def=account_day_partitions,
        group_name=GROUP,
        kinds=KINDS,
        pool=POOL,
        retry_policy=API_RETRY,
        backfill_policy=BACKFILL,
        description=description,
        # metrics and counts only: no usernames
        **table_catalog(spec, pii=False),
    )


@_metrics_asset(
    "tiktok_video_metrics",
    VIDEO_METRICS,
    "One row per video per UTC day it was observed: the metrics of every video younger "
    "than TIKTOK_ETL_METRICS_MAX_AGE_DAYS, from the day's video listing, plus its audience "
    f"and traffic shares in `{VIDEO_BREAKDOWNS.name}`. The partition of a day holds the "
    "snapshot taken on that day; a past day cannot be observed and is left as it is. Also "
    "refreshes the videos' metrics in sl_mentions.",
)
def tiktok_video_metrics(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.MaterializeResult]:
    yield from _materialize(context, tiktok, VIDEO_METRICS, snapshot_one)


@_metrics_asset(
    "tiktok_account_metrics",
    ACCOUNT_METRICS,
    "One row per account per UTC day. Business accounts: TikTok's daily metrics "
    "(followers, profile views, video views, likes, comments, shares, the rest in `extra`), "
    "the ~60 days TikTok keeps, back-filled on the first run; Display accounts: the day's "
    "follower, following, likes and video counts from the profile.",
)
def tiktok_account_metrics(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.MaterializeResult]:
    yield from _materialize(context, tiktok, ACCOUNT_METRICS, account_metrics_one)


METRICS_ASSETS = [tiktok_video_metrics, tiktok_account_metrics]
# the order a batch partition runs them in, after sl_mentions (so a snapshot refreshes it)
METRIC_STEPS: tuple[tuple[dg.AssetKey, TableSpec, MetricsStep], ...] = (
    (tiktok_video_metrics.key, VIDEO_METRICS, snapshot_one),
    (tiktok_account_metrics.key, ACCOUNT_METRICS, account_metrics_one),
)
