"""The code location loads, and its public surface does not change by accident."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import dagster as dg

from tiktok_etl.definitions import defs
from tiktok_etl.defs.assets import API_RETRY

ROOT = Path(__file__).resolve().parents[2]

# the example dbt project's models, with the .[dbt] extra (tiktok_etl_tests/defs/test_dbt_*.py)
DBT_MODELS = (
    ["daily_engagement", "open_mentions"] if importlib.util.find_spec("dagster_dbt") else []
)
ASSETS = sorted(
    [
        "sl_mention_actions",
        "sl_mentions",
        "tiktok_account_metrics",
        "tiktok_account_tokens",
        "tiktok_comments",
        "tiktok_research_comments",
        "tiktok_research_mentions",
        "tiktok_research_videos",
        "tiktok_users",
        "tiktok_video_metrics",
        "tiktok_videos",
        *DBT_MODELS,
    ]
)
METRICS = ["tiktok_account_metrics", "tiktok_video_metrics"]
PARTITIONED = ["sl_mentions", "tiktok_comments", "tiktok_users", "tiktok_videos", *METRICS]
RAW = ["tiktok_comments", "tiktok_users", "tiktok_videos"]
CHECKS = {
    "sl_mentions": {
        "identifiers_present",
        "partitions_fresh",
        "postgres_parquet_counts_match",
        "timestamps_in_partition_window",
        "unique_natural_keys",
    },
    "tiktok_comments": {
        "identifiers_present",
        "partitions_fresh",
        "postgres_parquet_counts_match",
        "timestamps_in_partition_window",
        "unique_natural_keys",
    },
    "tiktok_users": {
        "identifiers_present",
        "partitions_fresh",
        "postgres_parquet_counts_match",
        "unique_natural_keys",
    },
    "tiktok_videos": {
        "identifiers_present",
        "partitions_fresh",
        "postgres_parquet_counts_match",
        "timestamps_in_partition_window",
        "unique_natural_keys",
    },
}


def _repo() -> dg.RepositoryDefinition:
    return defs.get_repository_def()


def test_asset_keys_are_pinned() -> None:
    keys = sorted(k.to_user_string() for k in _repo().asset_graph.get_all_asset_keys())
    assert keys == ASSETS


def test_asset_checks_are_pinned() -> None:
    found: dict[str, set[str]] = {}
    for check_key in _repo().asset_graph.asset_check_keys:
        if check_key.asset_key.to_user_string() in DBT_MODELS:
            continue  # the dbt project's tests, pinned in test_dbt_example.py
        found.setdefault(check_key.asset_key.to_user_string(), set()).add(check_key.name)
    assert found == CHECKS


def test_jobs_schedules_and_sensors_are_pinned() -> None:
    repo = _repo()
    assert {
        "tiktok_ingest",
        "tiktok_token_refresh",
        "tiktok_mention_actions",
        "tiktok_freshness_checks",
    } <= set(repo.job_names)
    assert sorted(s.name for s in repo.schedule_defs) == [
        "tiktok_freshness_schedule",
        "tiktok_listening_schedule",
        "tiktok_lookback_schedule",
        "tiktok_today_schedule",
    ]
    assert "tiktok_listening" in repo.job_names
    # Dagster adds the automation sensor that evaluates the dbt models' conditions
    automation = ["default_automation_condition_sensor"] if DBT_MODELS else []
    assert sorted(s.name for s in repo.sensor_defs) == [
        *automation,
        "tiktok_accounts_sync_sensor",
        "tiktok_listening_queries_sync_sensor",
        "tiktok_mention_actions_sensor",
        "tiktok_token_refresh_sensor",
    ]


def test_assets_are_partitioned_by_account_and_day() -> None:
    graph = _repo().asset_graph
    for name in PARTITIONED:
        node = graph.get(dg.AssetKey(name))
        partitions = node.partitions_def
        assert isinstance(partitions, dg.MultiPartitionsDefinition)
        assert sorted(d.name for d in partitions.partitions_defs) == ["account", "date"]
        assert node.group_name == "tiktok"
        assert node.backfill_policy == dg.BackfillPolicy.multi_run(max_partitions_per_run=30)
        assert "postgres" in node.kinds and "parquet" in node.kinds


def test_raw_assets_run_in_the_api_pool_under_the_api_retry_policy() -> None:
    repo = _repo()
    for name in (*RAW, *METRICS):
        assert repo.asset_graph.get(dg.AssetKey(name)).pools == {"tiktok_api"}
        assert defs.get_assets_def(name).op.retry_policy == API_RETRY


def test_sl_mentions_makes_no_api_call_so_it_is_outside_the_api_pool_and_retry_policy() -> None:
    from tiktok_etl.defs.assets import API_RETRY
    from tiktok_etl.defs.mentions import DB_RETRY

    repo = _repo()
    assert repo.asset_graph.get(dg.AssetKey("sl_mentions")).pools == set()
    # only a lost database connection is retried there (defs/failures.py), seconds apart
    assert defs.get_assets_def("sl_mentions").op.retry_policy == DB_RETRY != API_RETRY


def test_sl_mentions_depends_on_the_raw_assets() -> None:
    node = _repo().asset_graph.get(dg.AssetKey("sl_mentions"))
    assert sorted(k.to_user_string() for k in node.parent_keys) == RAW


def test_dagster_validates_the_module() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "tiktok_etl.definitions",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workspace_yaml_points_at_the_definitions() -> None:
    text = (ROOT / "workspace.yaml").read_text()
    assert "tiktok_etl.definitions" in text


def test_packaged_instance_config_matches_the_top_level_dagster_yaml() -> None:
    packaged = (ROOT / "tiktok_etl" / "runtime" / "dagster_instance.yaml").read_text()
    assert packaged == (ROOT / "dagster.yaml").read_text()


def test_invalid_configuration_fails_at_load_naming_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import tiktok_etl.definitions"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE": "lots"},
        timeout=120,
    )
    assert result.returncode != 0
    assert "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE" in result.stderr


LISTENING = ["tiktok_research_comments", "tiktok_research_mentions", "tiktok_research_videos"]


def test_listening_assets_are_partitioned_by_query_and_day() -> None:
    graph = _repo().asset_graph
    for name in LISTENING:
        partitions = graph.get(dg.AssetKey(name)).partitions_def
        assert isinstance(partitions, dg.MultiPartitionsDefinition)
        assert sorted(d.name for d in partitions.partitions_defs) == ["date", "query"]
    for name in ("tiktok_research_comments", "tiktok_research_videos"):
        assert graph.get(dg.AssetKey(name)).pools == {"tiktok_api"}
    assert graph.get(dg.AssetKey("tiktok_research_mentions")).pools == set()
