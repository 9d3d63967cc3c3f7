"""The example dbt project on sandbox data: its models equal SQL over sl_mentions, its tests
run and pass, lineage reaches it from sl_mentions, and an sl_mentions update triggers it."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

pytest.importorskip("dagster_dbt", reason="the .[dbt] extra (installed by .ci/run)")

from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.dbt import PROJECT_DIR, load_dbt_example
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.resources import TikTokConnectorResource

from .conftest import materialize

DAY = "2026-11-08"
MODELS = {dg.AssetKey("daily_engagement"), dg.AssetKey("open_mentions")}
MODEL_TESTS = {
    "daily_engagement": {
        "not_null_daily_engagement_account_key",
        "not_null_daily_engagement_date",
        "not_null_daily_engagement_partition_key",
        "not_null_daily_engagement_videos",
        "unique_daily_engagement_partition_key",
    },
    "open_mentions": {
        "accepted_values_open_mentions_post_type__video__comment__reply",
        "accepted_values_open_mentions_status__new",
        "not_null_open_mentions_account_key",
        "not_null_open_mentions_external_id",
        "not_null_open_mentions_mention_key",
        "not_null_open_mentions_priority_rank",
        "not_null_open_mentions_tenant_id",
        "unique_open_mentions_mention_key",
    },
}


def _ingest(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    partitions: list[tuple[str, str]],
) -> None:
    add_account("brand", "business", "brand-open-id", "--tenant-id", "42", "--keywords", "acme")
    add_account("creator", "display", "creator-open-id", "--keywords", "acme")
    for account, day in partitions:
        result = materialize(instance, resource, account, day, [*RAW_ASSETS, sl_mentions])
        assert result.success, (account, day)


def _mentions(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text("SELECT * FROM sl_mentions")).mappings()]


def _rows(engine: sa.Engine, query: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(query), params).mappings()]


def _expected_daily(mentions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    sums: dict[tuple[str, date], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for m in mentions:
        if m["post_type"] != "video" or m["deleted_at"] is not None:
            continue
        day = sums[(m["account_key"], m["date"])]
        day["videos"] += 1
        for column, name in (
            ("views_count", "views"),
            ("likes_count", "likes"),
            ("comments_count", "comments"),
            ("shares_count", "shares"),
        ):
            day[name] += m[column] or 0
    expected = {}
    for (account, day), s in sums.items():
        rate = (s["likes"] + s["comments"] + s["shares"]) / s["views"] if s["views"] else None
        expected[f"{account}|{day.isoformat()}"] = {
            "account_key": account,
            "date": day,
            **{k: s[k] for k in ("videos", "views", "likes", "comments", "shares")},
            "engagement_rate": rate,
        }
    return expected


def _expected_queue(mentions: list[dict[str, Any]]) -> dict[int, list[str]]:
    """Each tenant's queue in the documented priority order."""
    open_ = [m for m in mentions if m["status"] == "new" and m["deleted_at"] is None]

    def priority(m: dict[str, Any]) -> tuple[Any, ...]:
        interactions = sum(m[c] or 0 for c in ("likes_count", "comments_count", "shares_count"))
        return (not m["matched_keywords"], -interactions, -m["published_at"].timestamp(),
                m["external_id"])  # fmt: skip

    queues: dict[int, list[str]] = defaultdict(list)
    for m in sorted(open_, key=priority):
        queues[m["tenant_id"]].append(f"{m['tenant_id']}:{m['platform']}:{m['external_id']}")
    return dict(queues)


def test_dbt_build_through_dagster_equals_sql_over_sl_mentions_and_its_tests_pass(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
) -> None:
    _ingest(add_account, instance, resource, [("brand", DAY), ("creator", DAY)])
    # the triage workflow has handled one mention; another vanished from TikTok
    with engine.begin() as conn:
        handled, gone = conn.execute(
            sa.text("SELECT external_id FROM sl_mentions WHERE account_key = 'brand' "
                    "AND post_type = 'comment' ORDER BY external_id LIMIT 2")
        ).scalars()  # fmt: skip
        conn.execute(sa.text("UPDATE sl_mentions SET status = 'replied' WHERE external_id = :i"),
                     {"i": handled})  # fmt: skip
        conn.execute(sa.text("UPDATE sl_mentions SET deleted_at = now() WHERE external_id = :i"),
                     {"i": gone})  # fmt: skip

    example = load_dbt_example()
    result = dg.materialize(
        list(example.assets),
        instance=instance,
        resources={**example.resources, "tiktok": resource},
    )

    assert result.success
    built = {m.asset_key for m in result.get_asset_materialization_events() if m.asset_key}
    assert built == MODELS
    checks = result.get_asset_check_evaluations()
    ran = defaultdict(set)
    for check in checks:
        ran[check.asset_key.to_user_string()].add(check.check_name)
    assert ran == MODEL_TESTS
    assert all(check.passed for check in checks)

    # the catalog describes every column a model builds (models.yml lists them all)
    documented = yaml.safe_load((PROJECT_DIR / "models" / "models.yml").read_text())
    for model in documented["models"]:
        built_columns = [
            (r["attname"], r["type"])
            for r in _rows(
                engine,
                "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute "
                "WHERE attrelid = CAST(:relation AS regclass) AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                relation=f"tiktok_analytics.{model['name']}",
            )
        ]
        assert built_columns == [(c["name"], c["data_type"]) for c in model["columns"]]
        assert all(c["description"].strip() for c in model["columns"])

    mentions = _mentions(engine)
    daily = {
        row.pop("partition_key"): row
        for row in _rows(engine, "SELECT * FROM tiktok_analytics.daily_engagement")
    }
    expected = _expected_daily(mentions)
    assert set(daily) == set(expected) == {f"brand|{DAY}", f"creator|{DAY}"}
    for key, row in daily.items():
        want = expected[key]
        assert {k: v for k, v in row.items() if k != "engagement_rate"} == {
            k: v for k, v in want.items() if k != "engagement_rate"
        }
        assert row["engagement_rate"] == pytest.approx(want["engagement_rate"], rel=1e-12)

    queue = _rows(
        engine,
        "SELECT tenant_id, mention_key, priority_rank, status "
        "FROM tiktok_analytics.open_mentions ORDER BY tenant_id, priority_rank",
    )
    found: dict[int, list[str]] = defaultdict(list)
    for row in queue:
        found[row["tenant_id"]].append(row["mention_key"])
        assert row["priority_rank"] == len(found[row["tenant_id"]])
    assert dict(found) == _expected_queue(mentions)
    assert set(found) == {1, 42}
    assert not any(handled in key or gone in key for keys in found.values() for key in keys)


def test_tiktok_etl_dbt_build_runs_models_and_source_tests_on_the_configured_database(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    cli: Callable[..., Any],
) -> None:
    _ingest(add_account, instance, resource, [("creator", DAY)])
    started = datetime.now(UTC)
    cli("dbt", "build")

    results = json.loads((PROJECT_DIR / "target" / "run_results.json").read_text())
    assert datetime.fromisoformat(results["metadata"]["generated_at"]) >= started
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    assert set(statuses.values()) == {"success", "pass"}
    assert statuses["model.tiktok_analytics.daily_engagement"] == "success"
    source_tests = [uid for uid in statuses if "source_accepted_values_tiktok_sl_mentions" in uid]
    assert len(source_tests) == 1
    (count,) = _rows(engine, "SELECT count(*) AS n FROM tiktok_analytics.open_mentions")
    live = _rows(
        engine,
        "SELECT count(*) AS n FROM sl_mentions WHERE status = 'new' AND deleted_at IS NULL",
    )
    assert count["n"] == live[0]["n"] > 0


def test_lineage_runs_from_sl_mentions_to_the_models_in_their_own_group() -> None:
    from tiktok_etl.definitions import defs

    graph = defs.get_repository_def().asset_graph
    for key in MODELS:
        node = graph.get(key)
        assert node.parent_keys == {dg.AssetKey("sl_mentions")}
        assert node.group_name == "tiktok_analytics"
        assert not node.is_partitioned
    assert graph.get(dg.AssetKey("sl_mentions")).child_keys >= MODELS


def test_an_sl_mentions_materialization_triggers_the_models(
    instance: dg.DagsterInstance,
) -> None:
    from tiktok_etl.definitions import defs

    partition = dg.MultiPartitionKey({"account": "brand", "date": DAY})
    for key in MODELS:  # the models were built once already
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert quiet.total_requested == 0

    instance.add_dynamic_partitions("tiktok_accounts", ["brand"])
    instance.report_runless_asset_event(
        dg.AssetMaterialization("sl_mentions", partition=str(partition))
    )
    triggered = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
    assert triggered.total_requested == 2
    assert all(triggered.get_num_requested(key) == 1 for key in MODELS)

    again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=triggered.cursor)
    assert again.total_requested == 0  # handled: one build per update, not one per tick
