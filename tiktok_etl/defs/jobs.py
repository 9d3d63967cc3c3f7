"""Jobs: the raw ingestion assets together, the scheduled batch, and the token refresh."""

from __future__ import annotations

import dagster as dg

from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.batch import tiktok_batch_ingest
from tiktok_etl.defs.freshness import tiktok_partitions_fresh
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.metrics import METRICS_ASSETS

ingest_job = dg.define_asset_job(
    "tiktok_ingest",
    # an asset selection brings every check of its assets; the freshness checks judge all
    # partitions at once and run on their own schedule (tiktok_etl.defs.freshness)
    selection=dg.AssetSelection.assets(*RAW_ASSETS, sl_mentions, *METRICS_ASSETS)
    - dg.AssetSelection.checks(tiktok_partitions_fresh),
    description=(
        "Users, videos, comments, their sl_mentions and the metric history for one account "
        "and UTC day."
    ),
)


# one step, so the run's own process executes it: no second process start-up per run
@dg.job(
    name="tiktok_batch",
    executor_def=dg.in_process_executor,
    description=(
        "What the schedules launch: the same four assets for many account-day partitions in "
        "one run (TIKTOK_ETL_BATCH_SIZE accounts), each partition with its own "
        "materialization and checks."
    ),
)
def batch_job() -> None:
    tiktok_batch_ingest()
