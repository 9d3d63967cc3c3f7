"""Materializing a partition lands exactly the API double's records, in Postgres and Parquet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.sandbox import SandboxApp
from tiktok_etl.storage.parquet import read_parquet_partition
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.tables import COMMENTS, USERS, VIDEOS

from .conftest import materialize

DAYS = [date(2026, 11, 7), date(2026, 11, 8), date(2026, 11, 10)]
VOLATILE = {"fetched_at"}


def _ids(rows: list[dict[str, Any]], key: str) -> list[str]:
    return sorted(r[key] for r in rows)


def _stable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_business_partition_matches_the_double_exactly(
    day: date,
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    project_env: dict[str, str],
) -> None:
    add_account("brand", "business", "brand-open-id")
    result = materialize(instance, resource, "brand", day.isoformat())
    assert result.success

    world = sandbox_app.world
    videos = world.business_videos("brand-open-id", day)
    comments = world.comments("brand-open-id", day)
    pg_videos = read_partition(engine, VIDEOS, "brand", day)
    pg_comments = read_partition(engine, COMMENTS, "brand", day)
    assert _ids(pg_videos, "video_id") == sorted(v["item_id"] for v in videos)
    assert _ids(pg_comments, "comment_id") == sorted(c["comment_id"] for c in comments)
    by_id = {v["item_id"]: v for v in videos}
    for row in pg_videos:
        truth = by_id[row["video_id"]]
        assert row["like_count"] == truth["likes"]
        assert row["view_count"] == truth["video_views"]
        assert row["comment_count"] == truth["comments"]
        assert {k: row["raw"][k] for k in truth} == truth  # the client asks for more fields
    truth_parents = {c["comment_id"]: c.get("parent_comment_id") for c in comments}
    for row in pg_comments:
        assert row["parent_comment_id"] == (truth_parents[row["comment_id"]] or None)

    root = project_env["TIKTOK_ETL_PARQUET_ROOT"]
    for spec, key, pg_rows in (
        (VIDEOS, "video_id", pg_videos),
        (COMMENTS, "comment_id", pg_comments),
    ):
        parquet = read_parquet_partition(root, spec, "brand", day)
        assert _ids(parquet, key) == _ids(pg_rows, key)
    users = read_partition(engine, USERS, "brand", day)
    assert len(users) == 1
    assert users[0]["follower_count"] == world.business_account("brand-open-id")["followers_count"]


def test_display_partition_matches_the_double_and_comments_say_why_empty(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> None:
    add_account("creator", "display", "creator-open-id")
    day = date(2026, 11, 8)
    result = materialize(instance, resource, "creator", day.isoformat())
    assert result.success

    truth = sandbox_app.world.videos("creator-open-id", day)
    rows = read_partition(engine, VIDEOS, "creator", day)
    assert _ids(rows, "video_id") == sorted(v["id"] for v in truth)
    user = read_partition(engine, USERS, "creator", day)[0]
    assert user["username"] == sandbox_app.world.user("creator-open-id")["username"]
    assert read_partition(engine, COMMENTS, "creator", day) == []
    comments_meta = result.asset_materializations_for_node("tiktok_comments")[0].metadata
    assert "no comment endpoint" in comments_meta["empty_reason"].value


def test_materialization_metadata_and_checks(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    add_account("brand", "business", "brand-open-id")
    result = materialize(instance, resource, "brand", "2026-11-08")
    assert result.success
    meta = result.asset_materializations_for_node("tiktok_videos")[0].metadata
    assert meta["dagster/row_count"].value == meta["dagster/partition_row_count"].value
    assert meta["dagster/table_name"].value == "tiktok.tiktok_videos"
    assert meta["api_requests"].value >= 1
    assert "rejected_records" in meta and "api_retries" in meta and "api_pages" in meta
    assert isinstance(meta["dagster/column_schema"].value, dg.TableSchema)
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 11  # the raw assets' checks (sl_mentions is not selected)
    assert all(e.passed for e in evaluations)


def test_second_run_changes_nothing(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    project_env: dict[str, str],
) -> None:
    add_account("brand", "business", "brand-open-id")
    day = date(2026, 11, 8)
    assert materialize(instance, resource, "brand", day.isoformat()).success
    first = {s.name: _stable(read_partition(engine, s, "brand", day)) for s in (VIDEOS, COMMENTS)}
    root = project_env["TIKTOK_ETL_PARQUET_ROOT"]
    first_parquet = _stable(read_parquet_partition(root, COMMENTS, "brand", day))

    assert materialize(instance, resource, "brand", day.isoformat()).success
    second = {s.name: _stable(read_partition(engine, s, "brand", day)) for s in (VIDEOS, COMMENTS)}
    assert second == first
    assert _stable(read_parquet_partition(root, COMMENTS, "brand", day)) == first_parquet


def test_unchanged_videos_are_not_reread_for_comments(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    sandbox_app: SandboxApp,
) -> None:
    add_account("brand", "business", "brand-open-id")
    from tiktok_etl.defs.assets import tiktok_comments

    assert materialize(instance, resource, "brand", "2026-11-09", [tiktok_comments]).success
    before = sandbox_app.stats.snapshot()
    assert materialize(instance, resource, "brand", "2026-11-09", [tiktok_comments]).success
    after = sandbox_app.stats.snapshot()
    comment_reads = _endpoint_delta(before, after, "comment/list") + _endpoint_delta(
        before, after, "reply/list"
    )
    assert comment_reads == 0
    assert _endpoint_delta(before, after, "video/list") >= 1


def test_an_older_day_is_served_from_what_a_newer_read_cached(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> None:
    from tiktok_etl.defs.assets import tiktok_comments

    add_account("brand", "business", "brand-open-id")
    assert materialize(instance, resource, "brand", "2026-11-08", [tiktok_comments]).success
    before = sandbox_app.stats.snapshot()
    assert materialize(instance, resource, "brand", "2026-11-05", [tiktok_comments]).success
    after = sandbox_app.stats.snapshot()
    assert _endpoint_delta(before, after, "comment/list") == 0
    assert _endpoint_delta(before, after, "reply/list") == 0
    truth = sandbox_app.world.comments("brand-open-id", date(2026, 11, 5))
    assert truth
    rows = read_partition(engine, COMMENTS, "brand", date(2026, 11, 5))
    assert _ids(rows, "comment_id") == sorted(c["comment_id"] for c in truth)


def test_new_comments_on_old_videos_land_in_their_own_day(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    sandbox_clock: Any,
) -> None:
    from tiktok_etl.defs.assets import tiktok_comments

    add_account("brand", "business", "brand-open-id")
    assert materialize(instance, resource, "brand", "2026-11-10", [tiktok_comments]).success
    sandbox_clock.advance(2 * 86400)  # two days later, old videos have new comments
    for day in ("2026-11-11", "2026-11-12", "2026-11-10"):
        assert materialize(instance, resource, "brand", day, [tiktok_comments]).success
        truth = sandbox_app.world.comments("brand-open-id", date.fromisoformat(day))
        rows = read_partition(engine, COMMENTS, "brand", date.fromisoformat(day))
        assert _ids(rows, "comment_id") == sorted(c["comment_id"] for c in truth)
    day12 = date(2026, 11, 12)
    commented = {c["video_id"] for c in sandbox_app.world.comments("brand-open-id", day12)}
    published = {v["item_id"] for v in sandbox_app.world.business_videos("brand-open-id", day12)}
    assert commented - published, "the double should comment on videos older than the day"


def _endpoint_delta(before: dict[str, Any], after: dict[str, Any], fragment: str) -> int:
    def total(snapshot: dict[str, Any]) -> int:
        return sum(n for ep, n in snapshot["requests"].items() if fragment in ep)

    return total(after) - total(before)


def test_a_backfill_range_materializes_every_partition_in_one_run(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> None:
    from tiktok_etl.definitions import defs

    add_account("brand", "business", "brand-open-id")
    job = defs.resolve_job_def("tiktok_ingest")
    result = job.execute_in_process(
        instance=instance,
        resources={"tiktok": resource},
        tags={
            "dagster/asset_partition_range_start": "brand|2026-11-06",
            "dagster/asset_partition_range_end": "brand|2026-11-09",
        },
    )
    assert result.success
    for day in (date(2026, 11, 6), date(2026, 11, 7), date(2026, 11, 8), date(2026, 11, 9)):
        truth = sorted(c["comment_id"] for c in sandbox_app.world.comments("brand-open-id", day))
        assert _ids(read_partition(engine, COMMENTS, "brand", day), "comment_id") == truth
    meta = result.asset_materializations_for_node("tiktok_videos")[0].metadata
    assert meta["partitions_written"].value == 4
    assert all(e.passed for e in result.get_asset_check_evaluations())
