"""What the Dagster UI shows before any run: the catalog, read through Dagster's GraphQL API
from the code location that ``workspace.yaml`` loads (in its own process, as the webserver
loads it), on an instance that has never materialized anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from tiktok_etl.defs.catalog import qualified_table_name
from tiktok_etl.mentions.schema import MENTIONS
from tiktok_etl.settings import ConfigError, Settings
from tiktok_etl.storage.metrics_tables import ACCOUNT_METRICS, VIDEO_METRICS
from tiktok_etl.storage.research import RESEARCH_COMMENTS, RESEARCH_VIDEOS
from tiktok_etl.storage.tables import COMMENTS, USERS, VIDEOS, TableSpec
from tiktok_etl_tests.defs.test_definitions import DBT_MODELS

ROOT = Path(__file__).resolve().parents[2]
OWNERS = "team:social-data,ana@example.com"

QUERY = """
query Catalog {
  assetNodes {
    assetKey { path }
    owners {
      ... on TeamAssetOwner { team }
      ... on UserAssetOwner { email }
    }
    tags { key value }
    internalFreshnessPolicy {
      ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds }
    }
    metadataEntries {
      label
      ... on TextMetadataEntry { text }
      ... on TableSchemaMetadataEntry {
        schema { columns { name type description constraints { nullable } } }
      }
      ... on CodeReferencesMetadataEntry {
        codeReferences { ... on LocalFileCodeReference { filePath lineNumber } }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """``asset -> its GraphQL asset node``, as the UI receives it."""
    home = tmp_path_factory.mktemp("catalog")
    with pytest.MonkeyPatch.context() as patch:
        # the code location is a separate process: it reads the configuration from the env
        patch.setenv("TIKTOK_ETL_OWNERS", OWNERS)
        patch.setenv("TIKTOK_ETL_HOME", str(home))
        with (
            dg.instance_for_test() as instance,
            define_out_of_process_context(str(ROOT / "workspace.yaml"), None, instance) as ctx,
        ):
            result = execute_dagster_graphql(ctx, QUERY)
            assert not result.errors, result.errors
            yield {"/".join(n["assetKey"]["path"]): n for n in result.data["assetNodes"]}


def _entry(node: dict[str, Any], label: str) -> dict[str, Any]:
    (entry,) = [e for e in node["metadataEntries"] if e["label"] == label]
    return entry


TABLES: dict[str, TableSpec] = {
    "tiktok_users": USERS,
    "tiktok_videos": VIDEOS,
    "tiktok_comments": COMMENTS,
    "sl_mentions": MENTIONS,
    "tiktok_video_metrics": VIDEO_METRICS,
    "tiktok_account_metrics": ACCOUNT_METRICS,
}
# read once a day by the listening schedule
DAILY_TABLES: dict[str, TableSpec] = {
    "tiktok_research_videos": RESEARCH_VIDEOS,
    "tiktok_research_comments": RESEARCH_COMMENTS,
    "tiktok_research_mentions": MENTIONS,
}
ASSETS = [
    *TABLES,
    *DAILY_TABLES,
    "tiktok_account_tokens",
    "sl_mention_actions",
    *DBT_MODELS,
]


def test_the_catalog_lists_every_asset(catalog: dict[str, dict[str, Any]]) -> None:
    assert sorted(catalog) == sorted(ASSETS)


@pytest.mark.parametrize("asset", ASSETS)
def test_every_column_has_a_type_a_nullability_and_a_description(
    catalog: dict[str, dict[str, Any]], asset: str
) -> None:
    columns = _entry(catalog[asset], "dagster/column_schema")["schema"]["columns"]

    assert columns
    assert [c for c in columns if not c["description"].strip()] == []
    assert all(c["type"] for c in columns)
    if asset in TABLES or asset in DAILY_TABLES:
        spec = {**TABLES, **DAILY_TABLES}[asset]
        assert [c["name"] for c in columns] == list(spec.column_names)
        assert {c["name"]: c["constraints"]["nullable"] for c in columns} == {
            c.name: c.nullable for c in spec.columns
        }


@pytest.mark.parametrize("asset", ASSETS)
def test_every_asset_names_the_configured_owners(
    catalog: dict[str, dict[str, Any]], asset: str
) -> None:
    owners = [o.get("team") or o.get("email") for o in catalog[asset]["owners"]]

    assert owners == ["social-data", "ana@example.com"]


@pytest.mark.parametrize(
    ("asset", "pii", "families"),
    [
        ("tiktok_users", True, {"display", "business"}),
        ("tiktok_videos", False, {"display", "business"}),
        ("tiktok_comments", True, {"business"}),
        ("sl_mentions", True, {"display", "business"}),
        ("tiktok_account_tokens", False, {"display", "business"}),
        ("tiktok_video_metrics", False, {"display", "business"}),
        ("tiktok_account_metrics", False, {"display", "business"}),
        ("tiktok_research_videos", True, {"research"}),
        ("tiktok_research_comments", True, {"research"}),
        ("tiktok_research_mentions", True, {"research"}),
        ("sl_mention_actions", True, {"business"}),
        *[(m, m == "open_mentions", {"display", "business"}) for m in DBT_MODELS],
    ],
)
def test_tags_mark_personal_data_the_api_families_and_the_storage(
    catalog: dict[str, dict[str, Any]], asset: str, pii: bool, families: set[str]
) -> None:
    tags = {t["key"]: t["value"] for t in catalog[asset]["tags"]}

    assert ("pii" in tags) is pii
    assert {k.split("/")[1].removesuffix("_api") for k in tags if k.endswith("_api")} == families
    assert "dagster/kind/postgres" in tags
    no_parquet = {"tiktok_account_tokens", "sl_mention_actions", *DBT_MODELS}
    assert ("dagster/kind/parquet" in tags) is (asset not in no_parquet)


@pytest.mark.parametrize("asset", ASSETS)
def test_the_table_name_is_qualified_and_the_code_is_referenced(
    catalog: dict[str, dict[str, Any]], asset: str
) -> None:
    table = {
        "tiktok_account_tokens": "tiktok_tokens",
        "tiktok_research_mentions": "sl_mentions",
    }.get(asset, asset)
    name = _entry(catalog[asset], "dagster/table_name")["text"]
    (reference,) = _entry(catalog[asset], "dagster/code_references")["codeReferences"]

    if asset in DBT_MODELS:
        # dbt names its relation database.schema.model and links the model's .sql file
        assert name.endswith(f".tiktok_analytics.{asset}")
        assert reference["filePath"].endswith(f"examples/dbt/models/{asset}.sql")
        return
    assert name == qualified_table_name(table, Settings.from_env({}))
    assert "." in name
    assert reference["filePath"].startswith(str(ROOT / "tiktok_etl" / "defs"))
    assert reference["lineNumber"] > 0


@pytest.mark.parametrize("asset", [*TABLES, *DBT_MODELS])
def test_materialized_assets_go_stale_an_hour_after_their_last_update(
    catalog: dict[str, dict[str, Any]], asset: str
) -> None:
    assert catalog[asset]["internalFreshnessPolicy"] == {
        "failWindowSeconds": 3600,
        "warnWindowSeconds": 2700,
    }


@pytest.mark.parametrize("asset", list(DAILY_TABLES))
def test_listening_assets_go_stale_a_day_and_two_hours_after_their_last_update(
    catalog: dict[str, dict[str, Any]], asset: str
) -> None:
    assert catalog[asset]["internalFreshnessPolicy"] == {
        "failWindowSeconds": 26 * 3600,
        "warnWindowSeconds": 25 * 3600,
    }


@pytest.mark.parametrize("asset", ["tiktok_account_tokens", "sl_mention_actions"])
def test_observed_assets_carry_no_freshness_policy(
    catalog: dict[str, dict[str, Any]], asset: str
) -> None:
    # observations never count as materializations for Dagster's freshness evaluator
    assert catalog[asset]["internalFreshnessPolicy"] is None


@pytest.mark.parametrize("raw", ["nobody", "team:", "a@b", "team:x;y", ","])
def test_owners_that_dagster_would_refuse_are_a_one_line_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="TIKTOK_ETL_OWNERS must be") as error:
        Settings.from_env({"TIKTOK_ETL_OWNERS": raw})
    assert "\n" not in str(error.value)


def test_owners_default_to_the_connector_team() -> None:
    assert Settings.from_env({}).owners == "team:tiktok-etl"
