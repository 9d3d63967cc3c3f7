"""Scheduled ingestion in few runs: one step materializes many account-day partitions.

A Dagster run per account-day costs process start-up and run bookkeeping before a single
request to TikTok; at a thousand accounts a 30-minute tick would be a thousand runs. The
schedules therefore launch ``tiktok_batch``: one op whose step loops over the partitions
listed in its run config and calls, for each, the same per-partition code the assets call
(:func:`~tiktok_etl.defs.assets.materialize_one`, then
:func:`~tiktok_etl.defs.mentions.normalize_one`). For every partition it records that
asset's own ``AssetMaterialization`` (with the metadata a single-partition asset run
records) and its own check evaluations, so the UI shows each partition as if it had its own
run.

A failing partition is logged with its account and error and the loop goes on: one account
never stops the others. The step fails after every partition was attempted, naming the
failed ones; a step retry (the assets' retry policy) attempts only what has not landed in
this run yet.

Why not a backfill per tick: Dagster packs a multi-partition backfill into few runs
(``BackfillPolicy``), but a range run records one combined metadata and one unpartitioned
check result for all its partitions, and its first failing account fails the range. The
asset runs (UI "Materialize", backfills, ``dagster asset materialize``) are unchanged; this
module is an addition for the schedules and must not change what a partition contains.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import dagster as dg
from pydantic import Field

from tiktok_etl.api.redaction import redact
from tiktok_etl.defs.assets import (
    API_RETRY,
    COMMENTS_TARGET,
    POOL,
    USERS_TARGET,
    VIDEOS_TARGET,
    Fetch,
    fetch_comment_rows,
    fetch_profile_rows,
    fetch_video_rows,
    materialize_one,
    partition_metadata,
    tiktok_comments,
    tiktok_users,
    tiktok_videos,
)
from tiktok_etl.defs.checks import CheckTarget, blocking_failures
from tiktok_etl.defs.mentions import normalize_one, sl_mentions
from tiktok_etl.defs.metrics import METRIC_STEPS, metrics_metadata
from tiktok_etl.defs.partitions import AccountDay
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.ingest import metrics as observed_metrics
from tiktok_etl.mentions.schema import MENTIONS
from tiktok_etl.runtime import Connector, Services

OP_NAME = "tiktok_batch_ingest"

# the raw assets in the order a partition is materialized; sl_mentions follows them
RAW_STEPS: tuple[tuple[dg.AssetKey, CheckTarget, Fetch], ...] = (
    (tiktok_users.key, USERS_TARGET, fetch_profile_rows),
    (tiktok_videos.key, VIDEOS_TARGET, fetch_video_rows),
    (tiktok_comments.key, COMMENTS_TARGET, fetch_comment_rows),
)
MENTIONS_KEY = sl_mentions.key

Event = dg.AssetMaterialization | dg.AssetCheckEvaluation


class BatchConfig(dg.Config):
    partitions: list[str] = Field(
        description=(
            "account-day partitions to materialize, as `account|YYYY-MM-DD`, in this order "
            "(an account's days newest first, so older days reuse what newer reads cached)"
        )
    )


def batch_run_config(partitions: Sequence[AccountDay]) -> dict[str, Any]:
    """The run config of a ``tiktok_batch`` run over ``partitions``."""
    keys = [str(ad.partition_key) for ad in partitions]
    return {"ops": {OP_NAME: {"config": {"partitions": keys}}}}


def partitions_of(request: dg.RunRequest) -> list[str]:
    """The partition keys a ``tiktok_batch`` run request covers."""
    config = request.run_config["ops"][OP_NAME]["config"]
    return list(config["partitions"])


@dataclass(frozen=True)
class PartitionFailure:
    """One partition that did not land, and why (token-free)."""

    partition: str
    asset: str
    error: str
    retryable: bool


def _parse(key: str) -> AccountDay:
    account, _, day = key.partition("|")
    return AccountDay(account_key=account, day=day)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, dg.Failure) and exc.description:
        return exc.description
    return redact(f"{type(exc).__name__}: {exc}")


def _retryable(exc: Exception) -> bool:
    # as a RetryPolicy treats a step: anything but a Failure that forbids retries
    return exc.allow_retries if isinstance(exc, dg.Failure) else True


def _landed_in_this_run(context: dg.OpExecutionContext) -> set[tuple[dg.AssetKey, str]]:
    """(asset, partition) pairs an earlier attempt of this step already materialized."""
    landed: set[tuple[dg.AssetKey, str]] = set()
    records = context.instance.all_logs(
        context.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    for record in records:
        event = record.get_dagster_event()
        materialization = event.step_materialization_data.materialization
        if materialization.partition:
            landed.add((materialization.asset_key, materialization.partition))
    return landed


def _failed_checks_in_this_run(
    context: dg.OpExecutionContext,
) -> dict[tuple[dg.AssetKey, str], list[str]]:
    """``table.check`` names that failed for (asset, partition) in an earlier attempt."""
    failed: dict[tuple[dg.AssetKey, str], list[str]] = {}
    records = context.instance.all_logs(
        context.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )
    for record in records:
        evaluation = record.get_dagster_event().asset_check_evaluation_data
        if not evaluation.passed and evaluation.partition:
            where = (evaluation.asset_key, evaluation.partition)
            name = f"{evaluation.asset_key.to_user_string()}.{evaluation.check_name}"
            failed.setdefault(where, []).append(name)
    return failed


def _target_materialization(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str
) -> Any:
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    record = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
    )


def _recorded(
    context: dg.OpExecutionContext,
    asset_key: dg.AssetKey,
    partition: str,
    metadata: Mapping[str, Any],
    checks: Sequence[dg.AssetCheckResult],
) -> Iterator[Event]:
    """One partition's materialization, then its checks tied to that materialization."""
    yield dg.AssetMaterialization(asset_key=asset_key, partition=partition, metadata=metadata)
    target = _target_materialization(context.instance, asset_key, partition)
    for check in checks:
        yield dg.AssetCheckEvaluation(
            asset_key=asset_key,
            check_name=str(check.check_name),
            passed=bool(check.passed),
            metadata=check.metadata,
            target_materialization_data=target,
            partition=partition,
        )


def _api_delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, int]:
    return {
        f"api_{name}": after[name] - before[name]
        for name in ("requests", "pages", "retries", "rate_limited")
    }


def _ingest_partition(
    context: dg.OpExecutionContext,
    services: Services,
    connector: Connector,
    ad: AccountDay,
    landed: set[tuple[dg.AssetKey, str]],
    landed_blocked: Mapping[tuple[dg.AssetKey, str], list[str]],
) -> Iterator[Event]:
    """Users, videos, comments, then sl_mentions of one partition; raises on the first
    asset that fails (its later assets depend on it), with that asset's name attached.
    A raw check failure keeps the partition's sl_mentions from being built."""
    key = str(ad.partition_key)
    blocked: list[str] = []
    for asset_key, target, fetch in RAW_STEPS:
        if (asset_key, key) in landed:
            blocked += landed_blocked.get((asset_key, key), [])
            continue
        before = connector.transport.stats.snapshot()
        try:
            write = materialize_one(services, connector, target, fetch, ad)
        except Exception as exc:
            raise _AssetFailed(asset_key, exc) from exc
        metadata = partition_metadata(target.spec, [write])
        metadata.update(_api_delta(before, connector.transport.stats.snapshot()))
        context.log.info(
            "%s %s: %d rows, %d rejected", target.spec.name, key, write.rows, write.rejected
        )
        yield from _recorded(context, asset_key, key, metadata, write.checks)
        blocked += blocking_failures(target.spec.name, write.checks)
    if (MENTIONS_KEY, key) not in landed:
        if blocked:
            # as the raw assets' blocking checks stop sl_mentions in an asset run
            raise _AssetFailed(
                MENTIONS_KEY,
                dg.Failure(
                    description=(
                        f"sl_mentions of {key} not built: the raw data failed "
                        f"{', '.join(blocked)}; fix or re-materialize the raw partition"
                    ),
                    allow_retries=False,
                ),
            )
        try:
            write, result = normalize_one(services, ad)
        except Exception as exc:
            raise _AssetFailed(MENTIONS_KEY, exc) from exc
        metadata = partition_metadata(MENTIONS, [write])
        metadata.update(asdict(result))
        yield from _recorded(context, MENTIONS_KEY, key, metadata, write.checks)
    yield from _metrics_of_partition(context, services, connector, ad, landed)


def _metrics_of_partition(
    context: dg.OpExecutionContext,
    services: Services,
    connector: Connector,
    ad: AccountDay,
    landed: set[tuple[dg.AssetKey, str]],
) -> Iterator[Event]:
    """The metric-history assets, after sl_mentions so a snapshot refreshes it. A day that
    cannot be observed (any day but today) records no materialization: nothing changed."""
    key = str(ad.partition_key)
    for asset_key, spec, step in METRIC_STEPS:
        if (asset_key, key) in landed:
            continue
        before = connector.transport.stats.snapshot()
        try:
            write = step(services, connector, ad, observed_metrics.observation_time())
        except Exception as exc:
            raise _AssetFailed(asset_key, exc) from exc
        if not write.observed:
            continue
        metadata = metrics_metadata(spec, [write])
        metadata.update(_api_delta(before, connector.transport.stats.snapshot()))
        context.log.info("%s %s: %d rows, %d rejected", spec.name, key, write.rows, write.rejected)
        yield from _recorded(context, asset_key, key, metadata, [])


class _AssetFailed(Exception):
    def __init__(self, asset_key: dg.AssetKey, cause: Exception) -> None:
        super().__init__(asset_key.to_user_string())
        self.asset_key = asset_key
        self.cause = cause


@dg.op(
    name=OP_NAME,
    out={},  # it records materializations, it returns nothing
    pool=POOL,
    retry_policy=API_RETRY,
    description=(
        "Materializes the listed account-day partitions of tiktok_users, tiktok_videos, "
        "tiktok_comments and sl_mentions (and, for today, tiktok_video_metrics and "
        "tiktok_account_metrics), each partition with its own materialization and checks. "
        "A failing partition does not stop the others."
    ),
)
def tiktok_batch_ingest(
    context: dg.OpExecutionContext, config: BatchConfig, tiktok: TikTokConnectorResource
) -> Iterator[Event]:
    partitions = [_parse(key) for key in config.partitions]
    landed = _landed_in_this_run(context) if context.retry_number else set()
    landed_blocked = _failed_checks_in_this_run(context) if context.retry_number else {}
    failures: list[PartitionFailure] = []
    services = tiktok.services()
    with services.connector() as connector:
        for ad in partitions:
            try:
                yield from _ingest_partition(
                    context, services, connector, ad, landed, landed_blocked
                )
            except _AssetFailed as failed:
                failure = PartitionFailure(
                    partition=str(ad.partition_key),
                    asset=failed.asset_key.to_user_string(),
                    error=_error_text(failed.cause),
                    retryable=_retryable(failed.cause),
                )
                context.log.error(
                    "%s %s failed (%s): %s",
                    failure.asset,
                    failure.partition,
                    "will retry" if failure.retryable else "not retryable",
                    failure.error,
                )
                failures.append(failure)
    if failures:
        raise _batch_failure(failures, len(partitions))


def _batch_failure(failures: list[PartitionFailure], attempted: int) -> dg.Failure:
    listed = "; ".join(f"{f.partition} ({f.asset}): {f.error}" for f in failures)
    return dg.Failure(
        description=f"{len(failures)} of {attempted} partitions failed: {listed}",
        metadata={
            "failed_partitions": dg.MetadataValue.json([asdict(f) for f in failures]),
            "partitions_attempted": attempted,
        },
        # a retry attempts only what has not landed; worth it if any failure may pass
        allow_retries=any(f.retryable for f in failures),
    )
