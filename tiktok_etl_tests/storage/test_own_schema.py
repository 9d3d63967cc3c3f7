"""Our tables live in TIKTOK_ETL_PG_SCHEMA; a deployment from before moves out of public once."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.conninfo import conninfo_to_dict

from tiktok_etl.settings import ConfigError, Settings
from tiktok_etl.storage.db import (
    make_engine,
    normalize_url,
    search_path_schema,
    to_libpq_url,
    with_search_path,
)
from tiktok_etl.storage.legacy_schema import LEGACY_TABLES
from tiktok_etl.storage.migrations import LEDGER, MIGRATIONS, Migration, applied_versions, migrate
from tiktok_etl.storage.tables import VIDEOS, qualified_name
from tiktok_etl_tests.pg_fixtures import fresh_database

README = Path(__file__).resolve().parents[2] / "README.md"
# the migrations a deployment from before own schemas had applied
LEGACY_MIGRATIONS = [m for m in MIGRATIONS if m.version[:4] <= "0008"]


def _objects(conn: sa.Connection, schema: str) -> set[str]:
    """Tables, views, sequences and functions in ``schema``."""
    relations = conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind IN ('r', 'v', 'S', 'p', 'm')"
        ),
        {"s": schema},
    ).scalars()
    functions = conn.execute(
        sa.text(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = :s"
        ),
        {"s": schema},
    ).scalars()
    return set(relations) | set(functions)


def build_old_deployment(url: str) -> None:
    """What migrations 0001-0008 of the previous release left: everything in public, the
    ledger called schema_migrations, and some rows."""
    with psycopg.connect(sa.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False
    )) as conn:  # fmt: skip
        conn.execute("SET search_path = public")
        conn.execute(
            "CREATE TABLE schema_migrations (version text PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in LEGACY_MIGRATIONS:
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version) VALUES (%s)", (migration.version,)
            )
        conn.execute("INSERT INTO tiktok_etl_meta (name, value) VALUES ('marker', 'x')")
        conn.execute(
            "INSERT INTO tiktok_rate_pauses (app, endpoint, blocked_until) "
            "VALUES ('app', '/v2/video/list/', now())"
        )
        conn.execute("SELECT nextval('tiktok_rate_tickets')")


@pytest.fixture
def old_url(pg_url: str) -> Iterator[str]:
    with fresh_database(pg_url) as url:
        build_old_deployment(url)
        yield url


def test_the_legacy_list_names_every_table_the_old_migrations_created(old_url: str) -> None:
    engine = sa.create_engine(normalize_url(old_url))
    try:
        with engine.connect() as conn:
            tables = set(
                conn.execute(
                    sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                ).scalars()
            )
    finally:
        engine.dispose()
    assert tables == set(LEGACY_TABLES) | {"schema_migrations"}


def test_migrate_moves_an_old_deployment_out_of_public_once(
    old_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(old_url)
    try:
        with caplog.at_level(logging.INFO, logger="tiktok_etl.storage.legacy_schema"):
            applied = migrate(engine)
        assert applied == [m.version for m in MIGRATIONS if m.version[:4] > "0008"]
        moved = [r.getMessage() for r in caplog.records if r.getMessage().startswith("moved")]
        assert sorted(moved) == sorted(
            f"moved table public.{t} to tiktok.{t}" for t in LEGACY_TABLES
        )
        with engine.connect() as conn:
            assert _objects(conn, "public") == set()
            others = {"sl_mentions_daily", "tiktok_rate_tickets", "tiktok_rate_acquire"}
            assert {*LEGACY_TABLES, LEDGER, *others} <= _objects(conn, "tiktok")
            assert (
                conn.execute(sa.text("SELECT value FROM tiktok.tiktok_etl_meta")).scalar() == b"x"
            )
            assert (
                conn.execute(sa.text("SELECT count(*) FROM tiktok.tiktok_rate_pauses")).scalar()
                == 1
            )
            # the sequence moved with its position, and the table default still uses it
            assert (
                conn.execute(sa.text("SELECT nextval('tiktok.tiktok_rate_tickets')")).scalar() == 2
            )
            # unqualified SQL finds the moved tables through the search path
            assert conn.execute(sa.text("SELECT count(*) FROM sl_mentions_daily")).scalar() == 0
        assert applied_versions(engine) == {m.version for m in MIGRATIONS}
        caplog.clear()
        assert migrate(engine) == []
        assert not [r for r in caplog.records if r.getMessage().startswith("moved")]
        with engine.connect() as conn:
            assert _objects(conn, "public") == set()
    finally:
        engine.dispose()


def test_the_moved_rate_budget_functions_still_work(old_url: str) -> None:
    engine = make_engine(old_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            slot = conn.execute(
                sa.text(
                    "SELECT slot_id FROM tiktok_rate_acquire('a', '/e', 10, 60, 30, 'me', NULL, 1)"
                )
            ).scalar()
        assert slot is not None
    finally:
        engine.dispose()


def test_a_public_schema_migrations_ledger_of_another_tool_is_left_alone(pg_url: str) -> None:
    with fresh_database(pg_url) as url:
        other = sa.create_engine(normalize_url(url))
        with other.begin() as conn:
            conn.execute(sa.text("CREATE TABLE schema_migrations (version bigint, dirty boolean)"))
            conn.execute(sa.text("INSERT INTO schema_migrations VALUES (20240101, false)"))
        other.dispose()
        engine = make_engine(url)
        try:
            assert migrate(engine) == [m.version for m in MIGRATIONS]
            with engine.connect() as conn:
                assert _objects(conn, "public") == {"schema_migrations"}
        finally:
            engine.dispose()


def test_a_configured_schema_holds_everything(pg_url: str) -> None:
    with fresh_database(pg_url) as url:
        engine = make_engine(url, schema="warehouse_tt")
        try:
            migrate(engine)
            with engine.connect() as conn:
                assert set(LEGACY_TABLES) | {LEDGER} <= _objects(conn, "warehouse_tt")
                assert _objects(conn, "public") == set()
                assert conn.execute(sa.text("SHOW search_path")).scalar() == "warehouse_tt"
        finally:
            engine.dispose()


def test_with_search_path_replaces_a_search_path_and_keeps_other_options() -> None:
    url = (
        "postgresql+psycopg://u:pw@db/x?options=-c%20statement_timeout%3D5000%20-csearch_path%3Dold"
    )
    result = with_search_path(url, "tiktok")
    assert search_path_schema(result) == "tiktok"
    assert sa.make_url(result).query["options"] == "-c statement_timeout=5000 -csearch_path=tiktok"
    assert sa.make_url(result).password == "pw"


@pytest.mark.parametrize("value", ["Tiktok", "tik-tok", "1tiktok", "pg_tiktok", "a;drop"])
def test_an_invalid_schema_name_is_a_config_error_naming_the_variable(value: str) -> None:
    with pytest.raises(
        ConfigError, match=r"^TIKTOK_ETL_PG_SCHEMA must be a lowercase SQL identifier"
    ):
        Settings.from_env({"TIKTOK_ETL_PG_SCHEMA": value})


def test_qualified_name_uses_the_configured_schema() -> None:
    assert qualified_name(VIDEOS, Settings.from_env({})) == "tiktok.tiktok_videos"
    settings = Settings.from_env({"TIKTOK_ETL_PG_SCHEMA": "lake"})
    assert qualified_name("sl_mentions", settings) == "lake.sl_mentions"


def _readme_grants(role: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- query: grants -->\s*```sql\n(.*?)```", text, re.S)
    assert match, "README.md has no grants block"
    statements = [s.strip() for s in match.group(1).split(";") if s.strip()]
    # roles are global to the server: a name of this test's own
    return [re.sub(r"\breader\b", role, s) for s in statements]


def test_the_readme_grants_let_a_reader_select_mentions_but_not_tokens(engine: sa.Engine) -> None:
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} NOLOGIN"))
    try:
        with engine.begin() as conn:
            for statement in _readme_grants(role):
                conn.execute(sa.text(statement))
        # a table a later migration creates is readable too (ALTER DEFAULT PRIVILEGES)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE tiktok_later (id int)"))
        with engine.connect() as conn:
            conn.execute(sa.text(f"SET ROLE {role}"))
            assert conn.execute(sa.text("SELECT count(*) FROM sl_mentions")).scalar() == 0
            assert conn.execute(sa.text("SELECT count(*) FROM tiktok.tiktok_videos")).scalar() == 0
            assert conn.execute(sa.text("SELECT count(*) FROM tiktok_later")).scalar() == 0
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.execute(sa.text("SELECT count(*) FROM tiktok_tokens"))
            conn.rollback()
            conn.execute(sa.text(f"SET ROLE {role}"))
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.execute(sa.text("SELECT count(*) FROM tiktok_etl_meta"))
            conn.rollback()
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
            conn.execute(sa.text(f"DROP ROLE {role}"))


def test_raw_psycopg_connections_land_in_the_schema_too(engine: sa.Engine) -> None:
    url = to_libpq_url(
        sa.make_url(with_search_path(engine.url, "tiktok"))
        .update_query_dict({"options": "-c statement_timeout=5000 -csearch_path=tiktok"})
        .render_as_string(hide_password=False)
    )
    assert conninfo_to_dict(url)["options"] == "-c statement_timeout=5000 -csearch_path=tiktok"
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW search_path").fetchone() == ("tiktok",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("5s",)
        assert conn.execute("SELECT count(*) FROM tiktok_accounts").fetchone() == (0,)


def test_a_user_given_a_ready_schema_migrates_without_create_on_the_database(
    engine: sa.Engine,
) -> None:
    role = f"limited_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} NOLOGIN"))
        conn.execute(sa.text(f"GRANT USAGE, CREATE ON SCHEMA tiktok TO {role}"))
        conn.execute(sa.text(f"GRANT SELECT, INSERT ON tiktok_etl_migrations TO {role}"))
    limited = make_engine(engine.url.render_as_string(hide_password=False))

    @sa.event.listens_for(limited, "connect")
    def _as_role(dbapi_connection: psycopg.Connection, _record: object) -> None:
        dbapi_connection.execute(f"SET ROLE {role}")
        dbapi_connection.commit()

    extra = Migration("9997_limited_extra", "CREATE TABLE limited_extra (id int);")
    try:
        assert migrate(limited, [*MIGRATIONS, extra]) == ["9997_limited_extra"]
        with limited.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar() == role
            assert conn.execute(sa.text("SELECT count(*) FROM limited_extra")).scalar() == 0
    finally:
        limited.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS limited_extra"))
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
            conn.execute(sa.text(f"DROP ROLE {role}"))
