"""``sl_mentions``: every video, comment and reply as a cross-platform mention row.

Built from the same partition of the raw assets (already in PostgreSQL), normalized in
batches and upserted on ``(tenant_id, platform, external_id)`` so columns a downstream triage
workflow owns (``status``) survive re-ingestion; mentions gone from a re-read partition are
soft-deleted. The Parquet copy is exported from PostgreSQL in the same transaction, under
the partition's lock, so both hold the same write (one id), workflow columns included.

It makes no TikTok request, so it runs outside the ``tiktok_api`` pool and without the API
retry policy's long backoff. Its only transient failure is a lost database connection
(see :mod:`tiktok_etl.defs.failures`), retried after seconds; anything else fails once.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from tiktok_etl.defs.assets import (
    BACKFILL,
    GROUP,
    PartitionWrite,
    active_account,
    partition_metadata,
    tiktok_comments,
    tiktok_users,
    tiktok_videos,
)
from tiktok_etl.defs.catalog import table_catalog
from tiktok_etl.defs.checks import CheckTarget, check_specs, combine_checks, partition_checks
from tiktok_etl.defs.failures import classified_failures
from tiktok_etl.defs.partitions import AccountDay, account_day_partitions
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.ingest.window import DayWindow
from tiktok_etl.mentions.keywords import KeywordMatcher
from tiktok_etl.mentions.normalize import normalize_partition
from tiktok_etl.mentions.schema import MENTIONS
from tiktok_etl.runtime import Services
from tiktok_etl.storage.mentions_store import MENTIONS_TABLE, UpsertResult
from tiktok_etl.storage.tables import COMMENTS, USERS, VIDEOS

# a database that restarted or failed over is back within seconds
DB_RETRY = dg.RetryPolicy(
    max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

MENTIONS_TARGET = CheckTarget(
    MENTIONS_TABLE, id_columns=("external_id",), time_column="published_at"
)


@dg.asset(
    name="sl_mentions",
    deps=[tiktok_users, tiktok_videos, tiktok_comments],
    partitions_def=account_day_partitions,
    group_name=GROUP,
    kinds={"postgres", "parquet"},
    retry_policy=DB_RETRY,
    backfill_policy=BACKFILL,
    check_specs=check_specs("sl_mentions", MENTIONS_TARGET),
    description=(
        "Every TikTok video, comment and reply of the partition in the cross-platform social "
        "listening mention schema, with the account's keywords matched. Upserted: `status` "
        "and other workflow columns survive re-ingestion; vanished mentions get `deleted_at`."
    ),
    # the table as stored (MENTIONS_TABLE is the write path's staging shape)
    **table_catalog(MENTIONS, pii=True),
)
def sl_mentions(
    context: dg.AssetExecutionContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.MaterializeResult]:
    writes: list[PartitionWrite] = []
    totals = {"inserted": 0, "updated": 0, "soft_deleted": 0, "restored": 0}
    with classified_failures("sl_mentions"):
        services = tiktok.services()
    for ad in AccountDay.all_from_context(context):
        with classified_failures(f"sl_mentions {ad.account_key}|{ad.day}"):
            write, result = normalize_one(services, ad)
        writes.append(write)
        for name in totals:
            totals[name] += getattr(result, name)
    metadata = partition_metadata(MENTIONS, writes)
    metadata.update(totals)
    yield dg.MaterializeResult(
        metadata=metadata, check_results=combine_checks([w.checks for w in writes])
    )


def normalize_one(services: Services, ad: AccountDay) -> tuple[PartitionWrite, UpsertResult]:
    """Normalize one partition's raw rows into ``sl_mentions`` (the asset and the batch op)."""
    window = DayWindow.parse(ad.day)
    reader = services.reader
    account = active_account(services.accounts, ad.account_key)
    users = reader.rows(USERS, ad.account_key, window.day)
    videos = reader.rows(VIDEOS, ad.account_key, window.day)
    comments = reader.rows(COMMENTS, ad.account_key, window.day)
    urls = reader.video_share_urls(ad.account_key, {c["video_id"] for c in comments})
    batches = normalize_partition(
        account,
        users[0] if users else None,
        videos,
        comments,
        urls,
        KeywordMatcher.for_account(account),
        now=datetime.now(UTC),
    )
    written = services.mentions.write(ad.account_key, window.day, batches)
    result = written.upserted
    write = PartitionWrite(
        partition=ad,
        rows=result.inserted + result.updated,
        rejected=0,
        replaced=result.updated,
        parquet_path=written.parquet_path,
        checks=partition_checks(services, MENTIONS_TARGET, ad.account_key, window),
        notes={"keyword_mode": account.keyword_mode, "keywords": ", ".join(account.keywords)},
        write_id=written.write_id,
    )
    return write, result
