"""``tiktok_resync``: rebuild an account's comment cache, then re-materialize what changed.

For an account whose comments went missing after an earlier bad read (see
:mod:`tiktok_etl.ingest.resync`). The job and ``tiktok-etl resync`` share these
functions: the cache is rebuilt from a full read, then every affected partition of
``tiktok_comments`` and ``sl_mentions`` is materialized again through Dagster, so each
keeps its materialization history in the UI; restored comments come back and their
mentions lose ``deleted_at``.
"""

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import dagster as dg
from pydantic import Field

from tiktok_etl.api import TikTokError
from tiktok_etl.defs.assets import active_account, tiktok_comments
from tiktok_etl.defs.failures import is_transient
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.partitions import from_start, require_from_start
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.ingest.resync import ResyncReport, resync_comments
from tiktok_etl.runtime import Services


@dataclass(frozen=True)
class PartitionOutcome:
    day: date
    success: bool
    run_id: str


def rebuild_comment_cache(
    services: Services, account_key: str, since: date | None = None
) -> ResyncReport:
    """Read the account's comments in full into the cache; the days to write again (only
    partition days: comments older than ``TIKTOK_ETL_START_DATE`` are cached, not written)."""
    if since is not None:
        require_from_start(since, "--since")
    account = active_account(services.accounts, account_key)
    with services.connector() as connector:
        report = resync_comments(
            connector.source(account),
            services.comment_cache,
            datetime.now(UTC),
            services.comment_workers,
            since,
        )
    return replace(report, days=from_start(report.days))


def rematerialize(
    instance: dg.DagsterInstance,
    tiktok: TikTokConnectorResource,
    account_key: str,
    days: list[date],
) -> list[PartitionOutcome]:
    """Materialize ``tiktok_comments`` and ``sl_mentions`` for each day, one run each."""
    outcomes = []
    for day in days:
        result = dg.materialize(
            [tiktok_comments, sl_mentions],
            partition_key=dg.MultiPartitionKey({"account": account_key, "date": day.isoformat()}),
            instance=instance,
            resources={"tiktok": tiktok},
            tags={"tiktok_etl/resync": account_key},
            raise_on_error=False,
        )
        outcomes.append(PartitionOutcome(day, result.success, result.run_id))
    return outcomes


class ResyncConfig(dg.Config):
    account: str = Field(description="The account key to resync.")
    since: str | None = Field(
        default=None, description="Re-materialize only partitions from this UTC day (YYYY-MM-DD)."
    )


@dg.op(description="Rebuild the account's comment cache from a full read and re-materialize.")
def tiktok_resync_comments(
    context: dg.OpExecutionContext, config: ResyncConfig, tiktok: TikTokConnectorResource
) -> None:
    since = date.fromisoformat(config.since) if config.since else None
    try:
        report = rebuild_comment_cache(tiktok.services(), config.account, since)
    except TikTokError as exc:
        raise dg.Failure(
            description=f"{config.account}: {type(exc).__name__}: {exc}",
            allow_retries=is_transient(exc),
        ) from exc
    context.log.info(
        "%s: %d videos read, %d comments cached, %d partitions to re-materialize",
        config.account, report.videos_read, report.comments_cached, len(report.days),
    )  # fmt: skip
    outcomes = rematerialize(context.instance, tiktok, config.account, report.days)
    failed = [o.day.isoformat() for o in outcomes if not o.success]
    if failed:
        raise dg.Failure(
            description=f"{config.account}: re-materializing failed for {', '.join(failed)}; "
            "run the resync again"
        )


@dg.job(name="tiktok_resync", description=__doc__.splitlines()[0].strip("`"))
def resync_job() -> None:
    tiktok_resync_comments()
