"""Listings that stall never delete: the measured case of issue 15, through the sandbox.

A Business account is materialized cleanly for two days; then listing pages answer
`has_more: true` with the cursor they were given. Those runs fail retryably and remove
nothing; once the listings behave, a plain re-run is exact; and a cache corrupted as the
old stalled reads left it is repaired by `tiktok-etl resync`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from tiktok_etl.defs.assets import (
    COMMENTS_TARGET,
    RAW_ASSETS,
    VIDEOS_TARGET,
    fetch_comment_rows,
    fetch_video_rows,
    materialize_one,
    tiktok_comments,
)
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.partitions import AccountDay
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.sandbox import FaultConfig, SandboxApp
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.tables import COMMENTS

DAYS = [date(2026, 11, 8), date(2026, 11, 9)]
STALLING = ("business/video/list/", "business/comment/list/")


def _run(
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    day: date,
    assets: list[Any] | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets or [*RAW_ASSETS, sl_mentions],
        partition_key=dg.MultiPartitionKey({"account": "brand", "date": day.isoformat()}),
        instance=instance,
        resources={"tiktok": resource},
        raise_on_error=False,
    )


def _context(
    instance: dg.DagsterInstance, resource: TikTokConnectorResource, day: date
) -> dg.AssetExecutionContext:
    # invoked directly: the step's retry policy (minutes apart) is Dagster's business
    return dg.build_asset_context(
        partition_key=dg.MultiPartitionKey({"account": "brand", "date": day.isoformat()}),
        resources={"tiktok": resource},
        instance=instance,
    )


def _landed(engine: sa.Engine, day: date) -> set[str]:
    return {r["comment_id"] for r in read_partition(engine, COMMENTS, "brand", day)}


def _truth(app: SandboxApp, day: date) -> set[str]:
    return {c["comment_id"] for c in app.world.comments("brand-open-id", day)}


def _live_mentions(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT external_id FROM sl_mentions WHERE account_key = 'brand' "
                "AND deleted_at IS NULL"
            )
        )
        return {r.external_id for r in rows}


def _deleted_mentions(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM sl_mentions WHERE deleted_at IS NOT NULL")
        ).scalar_one()


@pytest.fixture
def clean(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> dict[date, set[str]]:
    """A clean first read of both days: exact."""
    add_account("brand", "business", "brand-open-id")
    for day in DAYS:
        assert _run(instance, resource, day).success
        assert _landed(engine, day) == _truth(sandbox_app, day)
    assert sum(len(_landed(engine, d)) for d in DAYS) > 50
    return {day: _landed(engine, day) for day in DAYS}


def test_stalled_listings_fail_retryably_and_remove_nothing(
    clean: dict[date, set[str]],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> None:
    mentions = _live_mentions(engine)
    # every second page of the listings stalls, on every read
    sandbox_app.set_faults(FaultConfig(stall_cursors=(20,), stall_endpoints=STALLING))

    for day in DAYS:
        # the comment reader needs the whole video listing: it cannot read past the stall
        with pytest.raises(dg.Failure, match="IncompleteListing"):
            list(tiktok_comments(_context(instance, resource, day)))
        # sl_mentions re-built from what is stored soft-deletes nothing
        assert _run(instance, resource, day, [sl_mentions]).success
        assert _landed(engine, day) == clean[day]
    assert _live_mentions(engine) == mentions
    assert _deleted_mentions(engine) == 0
    assert sandbox_app.stats.snapshot()["faults"].get("stall", 0) > 0

    with pytest.raises(dg.Failure, match="IncompleteListing") as failure:
        list(tiktok_comments(_context(instance, resource, DAYS[0])))
    assert failure.value.allow_retries  # transient: Dagster's retry policy tries again
    assert "brand" in str(failure.value) and "business/video/list/" in str(failure.value)
    assert "cursor 20" in str(failure.value)

    sandbox_app.set_faults(FaultConfig())  # the listings heal: a plain re-run is exact
    for day in DAYS:
        assert _run(instance, resource, day).success
        assert _landed(engine, day) == _truth(sandbox_app, day)
    assert _deleted_mentions(engine) == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_random_stalls_never_lose_an_existing_comment_or_mention(
    seed: int,
    clean: dict[date, set[str]],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> None:
    mentions = _live_mentions(engine)
    services = resource.services()
    sandbox_app.set_faults(FaultConfig(rate_stall=0.15, seed=seed))
    for _ in range(2):
        for day in DAYS:
            for target, fetch in (
                (VIDEOS_TARGET, fetch_video_rows),
                (COMMENTS_TARGET, fetch_comment_rows),
            ):
                try:  # one step, once (its retry policy waits minutes); it may fail, retryably
                    with services.connector() as connector:
                        materialize_one(
                            services, connector, target, fetch, AccountDay("brand", day.isoformat())
                        )
                except dg.Failure as failure:
                    assert failure.allow_retries and "IncompleteListing" in str(failure)
            assert _run(instance, resource, day, [sl_mentions]).success
            assert _landed(engine, day) >= clean[day]
            assert _live_mentions(engine) >= mentions
    assert sandbox_app.stats.snapshot()["faults"].get("stall", 0) > 0

    sandbox_app.set_faults(FaultConfig())
    for day in DAYS:
        assert _run(instance, resource, day).success
        assert _landed(engine, day) == _truth(sandbox_app, day)


def test_resync_restores_what_a_corrupted_cache_lost(
    clean: dict[date, set[str]],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    cli: Callable[..., Any],
) -> None:
    # what the old stalled runs left: comments gone from the cache and the partitions,
    # their mentions soft-deleted, and per-video state claiming complete reads
    lost = sorted(clean[DAYS[0]])[::2] + sorted(clean[DAYS[1]])[::3]
    with engine.begin() as conn:
        for table in ("tiktok_comment_cache", "tiktok_comments"):
            conn.execute(
                sa.text(
                    f"DELETE FROM {table} WHERE account_key = 'brand' AND comment_id = ANY(:c)"
                ),
                {"c": lost},
            )
        conn.execute(
            sa.text("UPDATE sl_mentions SET deleted_at = now() WHERE external_id = ANY(:c)"),
            {"c": lost},
        )
    for day in DAYS:  # a plain re-run trusts the state: the loss stays
        assert _run(instance, resource, day).success
    assert not set(lost) & (_landed(engine, DAYS[0]) | _landed(engine, DAYS[1]))

    output = cli("resync", "--account", "brand").output

    assert "2 partitions to re-materialize" in output
    for day in DAYS:
        assert _landed(engine, day) == _truth(sandbox_app, day)
        key = dg.AssetKey("tiktok_comments")
        event = instance.get_latest_materialization_event(key)
        assert event is not None
    assert _deleted_mentions(engine) == 0
    assert set(lost) <= _live_mentions(engine)
    runs = instance.get_runs(dg.RunsFilter(tags={"tiktok_etl/resync": "brand"}))
    assert {r.tags.get("dagster/partition") for r in runs} == {
        f"brand|{d.isoformat()}" for d in DAYS
    }
