"""The one ``dg.Definitions`` of the code location (``dagster dev -w workspace.yaml``)."""

from __future__ import annotations

import dagster as dg

from tiktok_etl.defs.accounts_sync import tiktok_accounts_sync_sensor
from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.catalog import with_code_references
from tiktok_etl.defs.dbt import load_dbt_example
from tiktok_etl.defs.freshness import (
    freshness_job,
    tiktok_freshness_schedule,
    tiktok_partitions_fresh,
)
from tiktok_etl.defs.jobs import ingest_job
from tiktok_etl.defs.mention_actions import (
    mention_actions_job,
    sl_mention_actions,
    tiktok_mention_actions_sensor,
)
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.metrics import METRICS_ASSETS
from tiktok_etl.defs.research import (
    LISTENING_ASSETS,
    listening_job,
    tiktok_listening_queries_sync_sensor,
    tiktok_listening_schedule,
)
from tiktok_etl.defs.resources import resource_from_environment
from tiktok_etl.defs.resync import resync_job
from tiktok_etl.defs.schedules import tiktok_lookback_schedule, tiktok_today_schedule
from tiktok_etl.defs.tokens import (
    tiktok_account_tokens,
    tiktok_token_refresh_sensor,
    token_refresh_job,
)
from tiktok_etl.settings import Settings

# fail at load, naming the variable, rather than in the middle of a run
Settings.from_env()
dbt_example = load_dbt_example()

defs = dg.Definitions(
    assets=with_code_references(
        [
            *RAW_ASSETS,
            sl_mentions,
            *METRICS_ASSETS,
            tiktok_account_tokens,
            *LISTENING_ASSETS,
            sl_mention_actions,
        ]
    )
    + list(dbt_example.assets),
    asset_checks=[tiktok_partitions_fresh],
    jobs=[
        ingest_job,
        token_refresh_job,
        resync_job,
        listening_job,
        mention_actions_job,
        freshness_job,
    ],
    schedules=[
        tiktok_today_schedule,
        tiktok_lookback_schedule,
        tiktok_listening_schedule,
        tiktok_freshness_schedule,
    ],
    sensors=[
        tiktok_accounts_sync_sensor,
        tiktok_token_refresh_sensor,
        tiktok_listening_queries_sync_sensor,
        tiktok_mention_actions_sensor,
    ],
    resources={"tiktok": resource_from_environment(), **dbt_example.resources},
)
