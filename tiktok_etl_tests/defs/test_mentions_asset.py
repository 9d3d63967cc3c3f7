"""sl_mentions from materialized partitions: mapping, workflow columns, README queries."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import sqlalchemy as sa

from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.sandbox import SandboxApp
from tiktok_etl.storage.mentions_store import MENTIONS_TABLE, read_mentions
from tiktok_etl.storage.parquet import read_parquet_partition

from .conftest import materialize

DAY = date(2026, 11, 8)
README = Path(__file__).resolve().parents[2] / "README.md"
ALL = [*RAW_ASSETS, sl_mentions]


def _by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["external_id"]: r for r in rows}


def test_business_mentions_follow_the_mapping_field_by_field(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    project_env: dict[str, str],
) -> None:
    add_account("brand", "business", "brand-open-id", "--tenant-id", "42", "--source-id", "s-1")
    assert materialize(instance, resource, "brand", DAY.isoformat(), ALL).success
    mentions = _by_id(read_mentions(engine, "brand", DAY))
    world = sandbox_app.world
    videos = world.business_videos("brand-open-id", DAY)
    comments = world.comments("brand-open-id", DAY)
    assert len(mentions) == len(videos) + len(comments)
    profile = world.business_account("brand-open-id")
    for v in videos:
        m = mentions[v["item_id"]]
        assert (m["tenant_id"], m["source_id"], m["platform"]) == (42, "s-1", "tiktok")
        assert (m["post_type"], m["media_type"], m["status"]) == ("video", "video", "new")
        assert m["url"] == v["share_url"] and m["content"] == v["caption"]
        assert m["author_name"] == profile["display_name"]
        assert m["author_handle"] == "@" + profile["username"]
        assert m["author_followers"] == profile["followers_count"]
        assert m["author_verified"] is None
        assert (m["likes_count"], m["comments_count"], m["shares_count"]) == (
            v["likes"],
            v["comments"],
            v["shares"],
        )
        assert (m["views_count"], m["reach"]) == (v["video_views"], v["reach"])
        assert m["media_urls"] == [v["thumbnail_url"]]
        assert m["duration"] == v["video_duration"] and m["dimensions"] is None
        assert m["parent_external_id"] is None
        if v["video_views"]:
            rate = (v["likes"] + v["comments"] + v["shares"]) / v["video_views"]
            assert abs(m["engagement_rate"] - rate) < 1e-12
    for c in comments:
        m = mentions[c["comment_id"]]
        parent = c.get("parent_comment_id")
        assert m["post_type"] == ("reply" if parent else "comment")
        assert m["media_type"] == "text" and m["media_urls"] == []
        assert m["content"] == c["text"]
        assert m["author_name"] == c["username"] and m["author_handle"] == "@" + c["username"]
        assert m["author_followers"] is None and m["author_verified"] is None
        assert (m["likes_count"], m["comments_count"]) == (c["likes"], c.get("replies"))
        assert m["shares_count"] is None and m["views_count"] is None and m["reach"] is None
        assert m["parent_external_id"] == (parent or c["video_id"])
        assert m["engagement_rate"] is None
        # the video's link, also for comments on videos older than any materialized day
        assert m["url"].endswith("/video/" + c["video_id"])
        assert m["raw_data"]["comment_id"] == c["comment_id"]

    parquet = _by_id(
        read_parquet_partition(project_env["TIKTOK_ETL_PARQUET_ROOT"], MENTIONS_TABLE, "brand", DAY)
    )
    assert parquet.keys() == mentions.keys()
    some = next(iter(mentions))
    assert parquet[some]["content"] == mentions[some]["content"]
    assert parquet[some]["published_at"] == mentions[some]["published_at"]


def test_display_mentions_take_author_and_dimensions_from_the_day(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> None:
    add_account("creator", "display", "creator-open-id")
    assert materialize(instance, resource, "creator", DAY.isoformat(), ALL).success
    mentions = _by_id(read_mentions(engine, "creator", DAY))
    user = sandbox_app.world.user("creator-open-id")
    videos = sandbox_app.world.videos("creator-open-id", DAY)
    assert mentions.keys() == {v["id"] for v in videos}
    for v in videos:
        m = mentions[v["id"]]
        assert m["content"] == (v["video_description"] or v["title"] or "")
        assert m["author_name"] == user["display_name"]
        assert m["author_handle"] == "@" + user["username"]
        assert (m["author_followers"], m["author_verified"]) == (
            user["follower_count"],
            user["is_verified"],
        )
        assert m["reach"] == v["view_count"] and m["media_urls"] == [v["cover_image_url"]]
        assert m["dimensions"] == {"width": v["width"], "height": v["height"]}
        assert m["duration"] == v["duration"]


def test_rematerializing_refreshes_metrics_but_keeps_triage_status(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_clock: Any,
) -> None:
    add_account("brand", "business", "brand-open-id")
    assert materialize(instance, resource, "brand", DAY.isoformat(), ALL).success
    before = _by_id(read_mentions(engine, "brand", DAY))
    video_id = next(k for k, m in before.items() if m["post_type"] == "video")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE sl_mentions SET status = 'reviewed' WHERE external_id = :e"),
            {"e": video_id},
        )
    sandbox_clock.advance(3 * 86400)  # metrics keep moving
    assert materialize(instance, resource, "brand", DAY.isoformat(), ALL).success
    after = _by_id(read_mentions(engine, "brand", DAY))
    assert after[video_id]["status"] == "reviewed"
    assert after[video_id]["views_count"] > before[video_id]["views_count"]
    assert after[video_id]["updated_at"] > before[video_id]["updated_at"]
    assert after[video_id]["ingested_at"] == before[video_id]["ingested_at"]


def _readme_query(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- query: {name} -->\s*```sql\n(.*?)```", text, re.S)
    assert match, f"README.md has no query block {name!r}"
    return match.group(1)


def test_readme_queries_run_and_duckdb_agrees_with_postgres(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    project_env: dict[str, str],
) -> None:
    add_account("brand", "business", "brand-open-id", "--keywords", "acme,launch")
    add_account("creator", "display", "creator-open-id", "--keywords", "acme")
    for key in ("brand", "creator"):
        for day in ("2026-11-07", "2026-11-08"):
            assert materialize(instance, resource, key, day, ALL).success
    with engine.connect() as conn:
        postgres = [tuple(r) for r in conn.execute(sa.text(_readme_query("postgres")))]
        triage = conn.execute(sa.text(_readme_query("postgres-triage"))).all()
    assert postgres, "the daily view should have rows"
    assert triage, "the sandbox writes about acme"
    root = project_env["TIKTOK_ETL_PARQUET_ROOT"]
    query = _readme_query("duckdb").replace(".tiktok_etl/parquet", root)
    parquet = [tuple(r) for r in duckdb.sql(query).fetchall()]
    assert [(a, d, int(m), int(lk), int(v), int(k)) for a, d, m, lk, v, k in postgres] == [
        (a, d, int(m), int(lk), int(v), int(k)) for a, d, m, lk, v, k in parquet
    ]
