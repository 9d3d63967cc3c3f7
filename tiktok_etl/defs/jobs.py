"""Jobs: the raw ingestion assets together, and the token refresh."""

from __future__ import annotations

import dagster as dg

from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.mentions import sl_mentions

ingest_job = dg.define_asset_job(
    "tiktok_ingest",
    selection=dg.AssetSelection.assets(*RAW_ASSETS, sl_mentions),
    description="Users, videos, comments and their sl_mentions for one account and UTC day.",
)
