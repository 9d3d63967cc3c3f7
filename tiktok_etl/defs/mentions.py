"""``sl_mentions``: every video, comment and reply as a cross-platform mention row.

Built from the same partition of the raw assets (already in PostgreSQL), normalized in
batches and upserted on ``(tenant_id, platform, external_id)`` so columns a downstream triage
workflow owns (``status``) survive re-ingestion; mentions gone from a re-read partition are
soft-deleted. The Parquet copy is exported from PostgreSQL afterwards, so both hold the
same rows, workflow columns included.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from tiktok_etl.defs.assets import (
    API_RETRY,
    BACKFILL,
    GROUP,
    POOL,
    PartitionWrite,
    active_account,
    partition_metadata,
    tiktok_comments,
    tiktok_users,
    tiktok_videos,
)
from tiktok_etl.defs.checks import CheckTarget, check_specs, combine_checks, run_checks
from tiktok_etl.defs.partitions import AccountDay, account_day_partitions
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.ingest.window import DayWindow
from tiktok_etl.mentions.keywords import KeywordMatcher
from tiktok_etl.mentions.normalize import normalize_partition
from tiktok_etl.storage.lookups import video_share_urls
from tiktok_etl.storage.mentions_store import (
    MENTIONS_TABLE,
    UpsertResult,
    iter_mentions_arrow,
    upsert_mentions,
)
from tiktok_etl.storage.parquet import write_parquet_batches
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.tables import COMMENTS, USERS, VIDEOS

MENTIONS_TARGET = CheckTarget(
    MENTIONS_TABLE, id_columns=("external_id",), time_column="published_at"
)


@dg.asset(
    name="sl_mentions",
    deps=[tiktok_users, tiktok_videos, tiktok_comments],
    partitions_def=account_day_partitions,
    group_name=GROUP,
    kinds={"postgres", "parquet"},
    pool=POOL,
    retry_policy=API_RETRY,
    backfill_policy=BACKFILL,
    check_specs=check_specs("sl_mentions", MENTIONS_TARGET),
    description=(
        "Every TikTok video, comment and reply of the partition in the cross-platform social "
        "listening mention schema, with the account's keywords matched. Upserted: `status` "
        "and other workflow columns survive re-ingestion; vanished mentions get `deleted_at`."
    ),
    metadata={"dagster/table_name": "public.sl_mentions"},
)
def sl_mentions(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.MaterializeResult]:
    writes: list[PartitionWrite] = []
    totals = {"inserted": 0, "updated": 0, "soft_deleted": 0, "restored": 0}
    for ad in AccountDay.all_from_context(context):
        write, result = _normalize_one(tiktok, ad)
        writes.append(write)
        for name in totals:
            totals[name] += getattr(result, name)
    metadata = partition_metadata(MENTIONS_TABLE, writes)
    metadata.update(totals)
    yield dg.MaterializeResult(
        metadata=metadata, check_results=combine_checks([w.checks for w in writes])
    )


def _normalize_one(
    tiktok: TikTokConnectorResource, ad: AccountDay
) -> tuple[PartitionWrite, UpsertResult]:
    window = DayWindow.parse(ad.day)
    runtime = tiktok.runtime
    engine = runtime.engine
    account = active_account(runtime, ad.account_key)
    users = read_partition(engine, USERS, ad.account_key, window.day)
    videos = read_partition(engine, VIDEOS, ad.account_key, window.day)
    comments = read_partition(engine, COMMENTS, ad.account_key, window.day)
    urls = video_share_urls(engine, ad.account_key, {c["video_id"] for c in comments})
    batches = normalize_partition(
        account,
        users[0] if users else None,
        videos,
        comments,
        urls,
        KeywordMatcher.for_account(account),
        now=datetime.now(UTC),
    )
    result = upsert_mentions(engine, ad.account_key, window.day, batches)
    root = runtime.settings.parquet_root
    path = write_parquet_batches(
        root,
        MENTIONS_TABLE,
        ad.account_key,
        window.day,
        iter_mentions_arrow(engine, ad.account_key, window.day),
    )
    write = PartitionWrite(
        partition=ad,
        rows=result.inserted + result.updated,
        rejected=0,
        replaced=result.updated,
        parquet_path=path,
        checks=run_checks(engine, root, MENTIONS_TARGET, ad.account_key, window),
        notes={"keyword_mode": account.keyword_mode, "keywords": ", ".join(account.keywords)},
    )
    return write, result
