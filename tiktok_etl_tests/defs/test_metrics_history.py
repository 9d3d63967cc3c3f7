"""Metric history through Dagster, against the served sandbox with its clock moved day by day."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa

from tiktok_etl.defs import assets as raw_assets
from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.batch import batch_run_config
from tiktok_etl.defs.jobs import batch_job
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.metrics import METRICS_ASSETS
from tiktok_etl.defs.partitions import AccountDay
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.ingest import metrics as observed
from tiktok_etl.sandbox import SandboxApp, SandboxClock, records
from tiktok_etl.storage.mentions_store import MENTIONS_TABLE, read_mentions
from tiktok_etl.storage.parquet import read_parquet_partition
from tiktok_etl.storage.rejects import read_rejects

from .conftest import materialize

README = Path(__file__).resolve().parents[2] / "README.md"
OPEN_ID = "brand-open-id"
DAYS = 10


@pytest.fixture
def observe_on_sandbox_time(monkeypatch: pytest.MonkeyPatch, sandbox_clock: SandboxClock) -> None:
    """Snapshots are taken at the sandbox's "now", as the live connector takes them at its own."""
    monkeypatch.setattr(observed, "observation_time", sandbox_clock)


@pytest.fixture
def raw_on_sandbox_time(monkeypatch: pytest.MonkeyPatch, sandbox_clock: SandboxClock) -> None:
    """The raw assets stamp `fetched_at` at the sandbox's "now" too, so the two clocks of
    the metrics in sl_mentions (a partition re-read, a snapshot) are one."""

    class SandboxDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return sandbox_clock()

    monkeypatch.setattr(raw_assets, "datetime", SandboxDatetime)


def _today(clock: SandboxClock) -> date:
    return clock().date()


def _tracked_truth(app: SandboxApp, now: datetime) -> dict[str, dict[str, Any]]:
    """Every video younger than the default 90 days, as the sandbox serves it at ``now``."""
    videos = app.world.business_videos(
        OPEN_ID, now - timedelta(days=90), now + timedelta(seconds=1)
    )
    return {v["item_id"]: v for v in videos}


def _rows(engine: sa.Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def _latest_materialization(instance: dg.DagsterInstance, asset: str, partition: str) -> Any:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]),
        limit=1,
    ).records
    return records[0].asset_materialization if records else None


@pytest.mark.usefixtures("observe_on_sandbox_time")
def test_ten_days_yield_ten_snapshots_per_surviving_video_equal_to_the_sandbox(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    sandbox_clock: SandboxClock,
) -> None:
    add_account("brand", "business", OPEN_ID)
    truth_by_day: dict[date, dict[str, dict[str, Any]]] = {}
    for _ in range(DAYS):
        today = _today(sandbox_clock)
        truth_by_day[today] = _tracked_truth(sandbox_app, sandbox_clock())
        assert materialize(instance, resource, "brand", today.isoformat(), METRICS_ASSETS).success
        sandbox_clock.advance(86_400)

    snapshots = _rows(engine, "SELECT * FROM tiktok_video_metrics WHERE account_key = 'brand'")
    by_key = {(r["video_id"], r["date"]): r for r in snapshots}
    assert len(by_key) == len(snapshots) == sum(len(t) for t in truth_by_day.values())
    survivors = set.intersection(*(set(t) for t in truth_by_day.values()))
    assert survivors, "the sandbox should keep some videos tracked for all ten days"
    for video_id in survivors:
        assert sum(1 for vid, _ in by_key if vid == video_id) == DAYS
    for day, truth in truth_by_day.items():
        for video_id, served in truth.items():
            row = by_key[(video_id, day)]
            assert row["view_count"] == served["video_views"]
            assert row["like_count"] == served["likes"]
            assert row["comment_count"] == served["comments"]
            assert row["share_count"] == served["shares"]
            assert row["reach"] == served["reach"]
            assert row["full_video_watched_rate"] == served["full_video_watched_rate"]
            assert row["total_time_watched"] == served["total_time_watched"]
            assert row["average_time_watched"] == served["average_time_watched"]
    # views grow: the LAG of a survivor's curve is never negative and not always zero
    growth = _rows(
        engine,
        "SELECT view_count - LAG(view_count) OVER (PARTITION BY video_id ORDER BY date) AS d "
        "FROM tiktok_video_metrics WHERE account_key = 'brand'",
    )
    gains = [r["d"] for r in growth if r["d"] is not None]
    assert gains and min(gains) >= 0 and max(gains) > 0


@pytest.mark.usefixtures("observe_on_sandbox_time")
def test_the_first_run_lands_sixty_days_of_account_metrics_and_later_runs_keep_them(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    sandbox_clock: SandboxClock,
) -> None:
    add_account("brand", "business", OPEN_ID)
    first = _today(sandbox_clock)
    served = {
        date.fromisoformat(m["date"]): m
        for m in sandbox_app.world.daily_metrics(OPEN_ID, sandbox_app.world.now())
    }
    assert materialize(instance, resource, "brand", first.isoformat(), METRICS_ASSETS).success
    rows = {r["date"]: r for r in _rows(engine, "SELECT * FROM tiktok_account_metrics")}
    assert set(rows) == set(served)
    assert len(rows) == 60 and max(rows) == first - timedelta(days=1)
    for day, row in rows.items():
        for name in ("followers_count", "profile_views", "video_views", "likes", "shares"):
            assert row[name] == served[day][name]
        assert row["extra"] == {} and row["api"] == "business"

    for _ in range(3):
        sandbox_clock.advance(86_400)
        today = _today(sandbox_clock)
        assert materialize(instance, resource, "brand", today.isoformat(), METRICS_ASSETS).success
    days = [r["date"] for r in _rows(engine, "SELECT date FROM tiktok_account_metrics")]
    # three more days, and none of the oldest ones TikTok stopped returning was deleted
    assert len(days) == 63 and min(days) == min(rows)


@pytest.mark.usefixtures("observe_on_sandbox_time")
def test_a_past_day_records_nothing_and_says_so_and_a_rerun_replaces_only_today(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_clock: SandboxClock,
) -> None:
    add_account("brand", "business", OPEN_ID)
    today = _today(sandbox_clock)
    yesterday = today - timedelta(days=1)
    assert materialize(instance, resource, "brand", today.isoformat(), METRICS_ASSETS).success
    before = _rows(engine, "SELECT * FROM tiktok_video_metrics ORDER BY video_id")
    assert before

    assert materialize(instance, resource, "brand", yesterday.isoformat(), METRICS_ASSETS).success
    partition = f"brand|{yesterday.isoformat()}"
    event = _latest_materialization(instance, "tiktok_video_metrics", partition)
    assert "cannot be observed retroactively" in event.metadata["snapshot"].value
    assert event.metadata["partitions_not_observable"].value == 1
    assert "dagster/row_count" not in event.metadata
    assert _rows(engine, "SELECT * FROM tiktok_video_metrics WHERE date <> :d", d=today) == []

    sandbox_clock.advance(3600)  # later the same day: the re-run replaces today's snapshot
    assert materialize(instance, resource, "brand", today.isoformat(), METRICS_ASSETS).success
    after = _rows(engine, "SELECT * FROM tiktok_video_metrics ORDER BY video_id")
    assert [r["video_id"] for r in after] == [r["video_id"] for r in before]
    assert all(a["observed_at"] > b["observed_at"] for a, b in zip(after, before, strict=True))
    assert sum(a["view_count"] for a in after) >= sum(b["view_count"] for b in before)


@pytest.mark.usefixtures("observe_on_sandbox_time", "raw_on_sandbox_time")
def test_mentions_follow_the_latest_snapshot_and_keep_their_status(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    sandbox_clock: SandboxClock,
    project_env: dict[str, str],
) -> None:
    add_account("brand", "business", OPEN_ID)
    # a day with videos, well before the snapshots
    published = next(
        d
        for d in (_today(sandbox_clock) - timedelta(days=n) for n in range(2, 15))
        if sandbox_app.world.business_videos(OPEN_ID, d)
    )
    assert materialize(
        instance, resource, "brand", published.isoformat(), [*RAW_ASSETS, sl_mentions]
    ).success
    video_id = next(
        m["external_id"]
        for m in read_mentions(engine, "brand", published)
        if m["post_type"] == "video"
    )
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE sl_mentions SET status = 'reviewed' WHERE external_id = :e"),
            {"e": video_id},
        )

    sandbox_clock.advance(5 * 86_400)
    today = _today(sandbox_clock)
    assert materialize(instance, resource, "brand", today.isoformat(), METRICS_ASSETS).success
    snapshot = _rows(engine, "SELECT * FROM tiktok_video_metrics WHERE video_id = :v", v=video_id)[
        0
    ]
    mention = {m["external_id"]: m for m in read_mentions(engine, "brand", published)}[video_id]
    assert mention["status"] == "reviewed"
    assert mention["metrics_as_of"] == snapshot["observed_at"]
    assert (mention["views_count"], mention["likes_count"], mention["reach"]) == (
        snapshot["view_count"],
        snapshot["like_count"],
        snapshot["reach"],
    )
    engaged = snapshot["like_count"] + snapshot["comment_count"] + snapshot["share_count"]
    assert mention["engagement_rate"] == pytest.approx(engaged / snapshot["view_count"])
    parquet = read_parquet_partition(
        project_env["TIKTOK_ETL_PARQUET_ROOT"], MENTIONS_TABLE, "brand", published
    )
    assert {r["external_id"]: r for r in parquet}[video_id]["views_count"] == snapshot["view_count"]

    # re-running the old sl_mentions partition from its older raw rows keeps the newer numbers
    assert materialize(instance, resource, "brand", published.isoformat(), [sl_mentions]).success
    again = {m["external_id"]: m for m in read_mentions(engine, "brand", published)}[video_id]
    assert again["views_count"] == snapshot["view_count"]
    assert again["metrics_as_of"] == snapshot["observed_at"]


def _readme_query(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- query: {name} -->\s*```sql\n(.*?)```", text, re.S)
    assert match, f"README.md has no query block {name!r}"
    return match.group(1)


@pytest.mark.usefixtures("observe_on_sandbox_time")
def test_readme_metrics_queries_run_and_duckdb_agrees_with_postgres(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_clock: SandboxClock,
    project_env: dict[str, str],
) -> None:
    add_account("brand", "business", OPEN_ID)
    for _ in range(3):
        today = _today(sandbox_clock).isoformat()
        assert materialize(instance, resource, "brand", today, METRICS_ASSETS).success
        sandbox_clock.advance(86_400)
    with engine.connect() as conn:
        postgres = [tuple(r) for r in conn.execute(sa.text(_readme_query("postgres-growth")))]
        countries = conn.execute(sa.text(_readme_query("postgres-views-by-country"))).all()
    assert any(r[4] is not None and r[4] > 0 for r in postgres), "views should grow"
    root = project_env["TIKTOK_ETL_PARQUET_ROOT"]
    query = _readme_query("duckdb-growth").replace(".tiktok_etl/parquet", root)
    assert [tuple(r) for r in duckdb.sql(query).fetchall()] == postgres
    assert countries and {c[0] for c in countries} <= {"US", "GB", "DE", "SA", "JP"}
    latest = _rows(
        engine,
        "SELECT sum(view_count) AS v FROM tiktok_video_metrics WHERE date = "
        "(SELECT max(date) FROM tiktok_video_metrics)",
    )[0]["v"]
    # the shares of each video add up to about one, so the countries add up to the views
    assert sum(float(c[1]) for c in countries) == pytest.approx(float(latest), rel=0.02)


@pytest.mark.usefixtures("observe_on_sandbox_time")
def test_malformed_breakdown_entries_go_to_rejects_and_the_partition_lands(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_clock: SandboxClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = [{"country": "US", "percentage": 0.7}, {"country": None, "percentage": 0.2}, "junk"]
    monkeypatch.setitem(records._BUSINESS_VIDEO, "audience_countries", lambda v: served)
    add_account("brand", "business", OPEN_ID)
    today = _today(sandbox_clock)
    assert materialize(instance, resource, "brand", today.isoformat(), METRICS_ASSETS).success
    videos = _rows(engine, "SELECT video_id FROM tiktok_video_metrics")
    countries = _rows(
        engine,
        "SELECT DISTINCT key FROM tiktok_video_breakdowns WHERE dimension = 'audience_countries'",
    )
    assert videos and countries == [{"key": "US"}]
    rejects = read_rejects(engine, "tiktok_video_breakdowns", "brand", today)
    assert len(rejects) == 2 * len(videos)
    assert {r.reason for r in rejects} == {
        "country must be a non-empty string",
        "entry is not an object",
    }


@pytest.mark.usefixtures("observe_on_sandbox_time")
def test_display_accounts_get_snapshots_and_daily_profile_counts(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    sandbox_clock: SandboxClock,
) -> None:
    add_account("creator", "display", "creator-open-id")
    days = []
    for _ in range(2):
        today = _today(sandbox_clock)
        days.append(today)
        user = sandbox_app.world.user("creator-open-id")
        now = sandbox_clock()
        served = {
            v["id"]: v
            for v in sandbox_app.world.videos(
                "creator-open-id", now - timedelta(days=90), now + timedelta(seconds=1)
            )
        }
        assert materialize(instance, resource, "creator", today.isoformat(), METRICS_ASSETS).success
        account = _rows(engine, "SELECT * FROM tiktok_account_metrics WHERE date = :d", d=today)
        assert len(account) == 1
        assert (account[0]["followers_count"], account[0]["likes_count"]) == (
            user["follower_count"],
            user["likes_count"],
        )
        assert (account[0]["following_count"], account[0]["video_count"]) == (
            user["following_count"],
            user["video_count"],
        )
        assert account[0]["profile_views"] is None and account[0]["api"] == "display"
        snapshot = _rows(engine, "SELECT * FROM tiktok_video_metrics WHERE date = :d", d=today)
        assert {r["video_id"]: r["view_count"] for r in snapshot} == {
            k: v["view_count"] for k, v in served.items()
        }
        assert all(r["reach"] is None for r in snapshot)
        sandbox_clock.advance(86_400)
    assert [
        r["date"] for r in _rows(engine, "SELECT date FROM tiktok_account_metrics ORDER BY 1")
    ] == days


@pytest.mark.usefixtures("observe_on_sandbox_time", "raw_on_sandbox_time")
def test_the_batch_records_todays_metrics_and_skips_days_it_cannot_observe(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_clock: SandboxClock,
) -> None:
    add_account("brand", "business", OPEN_ID)
    today = _today(sandbox_clock)
    yesterday = today - timedelta(days=1)
    partitions = [
        AccountDay("brand", today.isoformat()),
        AccountDay("brand", yesterday.isoformat()),
    ]
    result = batch_job.execute_in_process(
        run_config=batch_run_config(partitions),
        instance=instance,
        resources={"tiktok": resource},
        raise_on_error=False,
    )
    assert result.success
    for asset in ("tiktok_video_metrics", "tiktok_account_metrics"):
        assert _latest_materialization(instance, asset, f"brand|{today.isoformat()}") is not None
        assert _latest_materialization(instance, asset, f"brand|{yesterday.isoformat()}") is None
    snapshot = _rows(engine, "SELECT * FROM tiktok_video_metrics")
    assert snapshot and {r["date"] for r in snapshot} == {today}
    # the batch read the listing for the comments already; the snapshot reused it
    event = _latest_materialization(instance, "tiktok_video_metrics", f"brand|{today.isoformat()}")
    assert event.metadata["api_requests"].value == 0
    refreshed = _rows(
        engine,
        "SELECT m.metrics_as_of, m.views_count, v.observed_at, v.view_count "
        "FROM sl_mentions AS m JOIN tiktok_video_metrics AS v ON v.video_id = m.external_id",
    )
    assert refreshed and all(r["metrics_as_of"] == r["observed_at"] for r in refreshed)
    assert all(r["views_count"] == r["view_count"] for r in refreshed)
