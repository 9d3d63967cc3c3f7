"""Listening (Research API): public videos and comments per listening query and UTC day.

Three assets, partitioned by ``query x date`` (the ``query`` dimension mirrors
``tiktok_listening_queries`` as ``account`` mirrors the accounts table):

- ``tiktok_research_videos``: the day's public videos matching the query (raw, lossless);
- ``tiktok_research_comments``: the top comments of those videos;
- ``tiktok_research_mentions``: both, normalized into ``sl_mentions`` with
  ``source_kind = 'query'``.

Every step reports the shared daily quota in its metadata. An exhausted quota fails the
partition once (never retried: the message names the reset time) before anything is
written, so no partial day is presented as complete. Wiring only: the work is in
``ingest.research``, ``mentions.research`` and ``runtime.research``.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg

from tiktok_etl.api.research_query import parse_query
from tiktok_etl.defs.accounts_sync import sync_result
from tiktok_etl.defs.assets import API_RETRY, POOL, column_schema
from tiktok_etl.defs.catalog import ApiFamily, table_catalog
from tiktok_etl.defs.failures import classified_failures
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.ingest.fetched import FetchOutcome
from tiktok_etl.ingest.research import fetch_query_comments, fetch_query_videos
from tiktok_etl.mentions.research import normalize_research_partition
from tiktok_etl.mentions.schema import MENTIONS
from tiktok_etl.runtime import Services
from tiktok_etl.runtime.research import QUERIES_PARTITIONS_NAME, Listening
from tiktok_etl.settings import Settings
from tiktok_etl.storage.research import RESEARCH_COMMENTS, RESEARCH_VIDEOS, StoredQuery
from tiktok_etl.storage.tables import TableSpec, qualified_name

GROUP = "tiktok_listening"
RESEARCH_FAMILY: tuple[ApiFamily, ...] = ("research",)
FIRST_DAY = "2024-01-01"

queries_partitions = dg.DynamicPartitionsDefinition(name=QUERIES_PARTITIONS_NAME)
query_day_partitions = dg.MultiPartitionsDefinition(
    {
        "query": queries_partitions,
        "date": dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="UTC", end_offset=1),
    }
)


@dataclass(frozen=True)
class QueryDay:
    query_key: str
    day: date

    @classmethod
    def all_from_context(cls, context: dg.AssetExecutionContext) -> list["QueryDay"]:
        out = []
        for key in context.partition_keys:
            dims = query_day_partitions.get_partition_key_from_str(str(key)).keys_by_dimension
            out.append(cls(dims["query"], date.fromisoformat(dims["date"])))
        return out

    @property
    def label(self) -> str:
        return f"{self.query_key}|{self.day.isoformat()}"


def _metadata(
    spec: TableSpec, listening: Listening, written: list[tuple[QueryDay, int, int, str]]
) -> dict[str, Any]:
    rows = sum(r for _, r, _, _ in written)
    metadata: dict[str, Any] = {
        "dagster/row_count": rows,
        "dagster/table_name": qualified_name(spec, Settings.from_env()),
        "dagster/column_schema": column_schema(spec.columns),
        "rejected_records": sum(j for _, _, j, _ in written),
        "partitions_written": len(written),
    }
    if len(written) == 1:
        metadata["parquet_path"] = dg.MetadataValue.path(written[0][3])
    metadata.update(listening.quota.usage().as_metadata())
    return metadata


def _before_since(query: StoredQuery, day: date) -> bool:
    return query.since is not None and day < query.since


def _raw_step(
    context: dg.AssetExecutionContext,
    tiktok: TikTokConnectorResource,
    spec: TableSpec,
    fetch: Any,
) -> dg.MaterializeResult:
    with classified_failures(spec.name):
        services = tiktok.services()
        listening = Listening(tiktok.runtime)
    written = []
    for qd in QueryDay.all_from_context(context):
        with classified_failures(f"{spec.name} {qd.label}"):
            query = listening.queries.get(qd.query_key)
            if _before_since(query, qd.day):
                outcome = FetchOutcome(notes={"skipped": f"before the query's since {query.since}"})
            else:
                outcome = fetch(services, listening, query, qd.day)
            result = services.writer.write(
                spec, query.storage_key, qd.day, outcome.rows, outcome.reject_tuples()
            )
        context.log.info(f"{spec.name} {qd.label}: {len(outcome.rows)} rows {outcome.notes}")
        written.append((qd, len(outcome.rows), len(outcome.rejects), result.parquet_path))
    return dg.MaterializeResult(metadata=_metadata(spec, listening, written))


def _fetch_videos(
    services: Services, listening: Listening, query: StoredQuery, day: date
) -> FetchOutcome:
    with listening.client() as client:
        return fetch_query_videos(client, query, day, datetime.now(UTC))


def _fetch_comments(
    services: Services, listening: Listening, query: StoredQuery, day: date
) -> FetchOutcome:
    videos = services.reader.rows(RESEARCH_VIDEOS, query.storage_key, day)
    with listening.client() as client:
        return fetch_query_comments(
            client, query, day, videos, listening.comments_per_video, datetime.now(UTC)
        )


@dg.asset(
    name="tiktok_research_videos",
    description=(
        "Public videos matching a listening query, created that UTC day (Research API video "
        "query). Raw and lossless; malformed records go to tiktok_rejects."
    ),
    partitions_def=query_day_partitions,
    group_name=GROUP,
    kinds={"tiktok", "postgres", "parquet"},
    pool=POOL,
    retry_policy=API_RETRY,
    **table_catalog(RESEARCH_VIDEOS, pii=True, api_families=RESEARCH_FAMILY, daily=True),
)
def tiktok_research_videos(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> dg.MaterializeResult:
    return _raw_step(context, tiktok, RESEARCH_VIDEOS, _fetch_videos)


@dg.asset(
    name="tiktok_research_comments",
    deps=[tiktok_research_videos],
    description=(
        "The top comments (TIKTOK_ETL_RESEARCH_COMMENTS_PER_VIDEO, default 100) of the "
        "partition's matched videos (Research API comment list)."
    ),
    partitions_def=query_day_partitions,
    group_name=GROUP,
    kinds={"tiktok", "postgres", "parquet"},
    pool=POOL,
    retry_policy=API_RETRY,
    **table_catalog(RESEARCH_COMMENTS, pii=True, api_families=RESEARCH_FAMILY, daily=True),
)
def tiktok_research_comments(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> dg.MaterializeResult:
    return _raw_step(context, tiktok, RESEARCH_COMMENTS, _fetch_comments)


@dg.asset(
    name="tiktok_research_mentions",
    deps=[tiktok_research_videos, tiktok_research_comments],
    partitions_def=query_day_partitions,
    group_name=GROUP,
    kinds={"postgres", "parquet"},
    description=(
        "A listening query's videos and comments as sl_mentions rows (source_kind 'query', "
        "source_key the query key, account_key 'query.<key>'). An owned account's video "
        "keeps its account row."
    ),
    **table_catalog(MENTIONS, pii=True, api_families=RESEARCH_FAMILY, daily=True),
)
def tiktok_research_mentions(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.MaterializeResult]:
    with classified_failures("tiktok_research_mentions"):
        services = tiktok.services()
        listening = Listening(tiktok.runtime)
    totals = {"inserted": 0, "updated": 0, "soft_deleted": 0}
    for qd in QueryDay.all_from_context(context):
        with classified_failures(f"tiktok_research_mentions {qd.label}"):
            query = listening.queries.get(qd.query_key)
            key = query.storage_key
            mentions = normalize_research_partition(
                query_key=query.query_key,
                storage_key=key,
                tenant_id=query.tenant_id,
                source_id=query.source_id,
                query=parse_query(query.query_text, query.regions),
                video_rows=services.reader.rows(RESEARCH_VIDEOS, key, qd.day),
                comment_rows=services.reader.rows(RESEARCH_COMMENTS, key, qd.day),
                now=datetime.now(UTC),
            )
            written = listening.write_mentions(key, qd.day, mentions)
        for name in totals:
            totals[name] += getattr(written.upserted, name)
    yield dg.MaterializeResult(metadata={**totals, **listening.quota.usage().as_metadata()})


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a `query` partition per row of tiktok_listening_queries, removes deleted.",
)
def tiktok_listening_queries_sync_sensor(
    context: dg.SensorEvaluationContext, tiktok: TikTokConnectorResource
) -> dg.SensorResult | dg.SkipReason:
    table_keys = {q.query_key for q in Listening(tiktok.runtime).queries.list()}
    return sync_result(context, QUERIES_PARTITIONS_NAME, table_keys, "listening queries")


LISTENING_ASSETS = (tiktok_research_videos, tiktok_research_comments, tiktok_research_mentions)

listening_job = dg.define_asset_job(
    "tiktok_listening",
    selection=dg.AssetSelection.assets(*LISTENING_ASSETS),
    description="A listening query's public videos, their comments and mentions for one day.",
)


@dg.schedule(
    job=listening_job,
    cron_schedule="30 0 * * *",
    execution_timezone="UTC",
    description=(
        "Once a day, yesterday's (now complete) partition of every listening query: one read "
        "per query-day keeps the Research quota for backfills."
    ),
)
def tiktok_listening_schedule(
    context: dg.ScheduleEvaluationContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    tick = context.scheduled_execution_time or datetime.now(UTC)
    day = tick.astimezone(UTC).date() - timedelta(days=1)
    queries = [q for q in Listening(tiktok.runtime).queries.list() if not _before_since(q, day)]
    if not queries:
        yield dg.SkipReason(
            f"no listening query covers {day}; add one with `tiktok-etl listen add`"
        )
        return
    for query in queries:
        yield dg.RunRequest(
            run_key=f"listening@{day.isoformat()}#{query.query_key}",
            partition_key=dg.MultiPartitionKey({"query": query.query_key, "date": day.isoformat()}),
            tags={"tiktok/schedule": "listening"},
        )
