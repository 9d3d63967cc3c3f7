"""After a materialization nothing of ours nor of Dagster's is in ``public``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.runtime.dagster_schema import dagster_tables, prepare_dagster_schema
from tiktok_etl.runtime.instance_storage import resolve_instance_url
from tiktok_etl.storage.db import to_psycopg2_url, with_search_path

from .conftest import materialize


def _relations(conn: sa.Connection, schema: str) -> set[str]:
    return set(
        conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND c.relkind IN ('r', 'v', 'S', 'p', 'm')"
            ),
            {"s": schema},
        ).scalars()
    )


def test_a_materialization_leaves_public_empty(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
) -> None:
    add_account("brand", "business", "brand-open-id")
    result = materialize(instance, resource, "brand", "2026-11-08", [*RAW_ASSETS, sl_mentions])
    assert result.success
    assert instance.get_run_by_id(result.run_id) is not None
    with engine.connect() as conn:
        assert _relations(conn, "public") == set()
        dagster = _relations(conn, "dagster")
        assert {"runs", "event_logs", "alembic_version", "kvs"} <= dagster
        assert {"sl_mentions", "tiktok_videos", "tiktok_etl_migrations"} <= _relations(
            conn, "tiktok"
        )
        assert not dagster & _relations(conn, "tiktok")
        runs = conn.execute(sa.text("SELECT count(*) FROM dagster.runs")).scalar()
    assert runs == 1
    meta = result.asset_materializations_for_node("sl_mentions")[0].metadata
    assert meta["dagster/table_name"].value == "tiktok.sl_mentions"


def test_an_instance_left_in_public_moves_with_its_run_history(
    engine: sa.Engine, tmp_path: Path, project_env: dict[str, str]
) -> None:
    url = to_psycopg2_url(engine.url.render_as_string(hide_password=False))
    # the previous release: dagster-postgres on the data database, in public
    old = dg.DagsterInstance.from_config(
        str(_home(tmp_path / "old", with_search_path(url, "public"))), "dagster.yaml"
    )
    run = old.create_run_for_job(_job(), run_id="0" * 8 + "-0000-0000-0000-" + "0" * 12)
    old.dispose()
    with engine.connect() as conn:
        assert "runs" in _relations(conn, "public")

    env = {**project_env, "TIKTOK_ETL_DAGSTER_PG_URL": url}
    moved_url = resolve_instance_url(env)
    assert moved_url == with_search_path(url, "dagster")
    with engine.connect() as conn:
        assert _relations(conn, "public") == set()
        assert "runs" in _relations(conn, "dagster")
    new = dg.DagsterInstance.from_config(str(_home(tmp_path / "new", moved_url)), "dagster.yaml")
    try:
        assert new.get_run_by_id(run.run_id) is not None
    finally:
        new.dispose()
    # a second start moves nothing
    assert prepare_dagster_schema(moved_url, "dagster") == []


def test_dagster_tables_are_named_from_dagsters_own_metadata() -> None:
    assert {"runs", "event_logs", "alembic_version", "jobs", "kvs"} <= set(dagster_tables())


def _home(path: Path, url: str) -> Path:
    path.mkdir(parents=True)
    (path / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: '{url}'\ntelemetry:\n  enabled: false\n"
    )
    return path


def _job() -> dg.JobDefinition:
    @dg.op
    def noop() -> None:
        pass

    @dg.job
    def old_job() -> None:
        noop()

    return old_job
