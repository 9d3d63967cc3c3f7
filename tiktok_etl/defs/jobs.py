"""Jobs: the raw ingestion assets together, and the token refresh."""

from __future__ import annotations

import dagster as dg

from tiktok_etl.defs.assets import RAW_ASSETS

ingest_job = dg.define_asset_job(
    "tiktok_ingest",
    selection=dg.AssetSelection.assets(*RAW_ASSETS),
    description="Users, videos and comments of one account and UTC day.",
)
