"""Real PostgreSQL for tests: one server per session, one fresh, migrated database per test.

Plain context managers, so any conftest can wrap them in fixtures::

    @pytest.fixture(scope="session")
    def pg_url() -> Iterator[str]:
        with postgres_server() as url:
            yield url

    @pytest.fixture
    def engine(pg_url: str) -> Iterator[sa.Engine]:
        with migrated_database(pg_url) as engine:
            yield engine

``TIKTOK_ETL_TEST_DATABASE_URL`` points the tests at an existing server instead (its user
needs CREATEDB: every test gets its own database, dropped afterwards).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import make_url

from tiktok_etl.storage.db import make_engine, normalize_url, to_libpq_url
from tiktok_etl.storage.embedded import EmbeddedPostgres
from tiktok_etl.storage.migrations import migrate

TEST_DATABASE_URL_VAR = "TIKTOK_ETL_TEST_DATABASE_URL"

# durability is pointless for throwaway test data and costs most of the test time
_FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@contextmanager
def postgres_server() -> Iterator[str]:
    """A server URL: ``TIKTOK_ETL_TEST_DATABASE_URL`` if set, else a new embedded server,
    stopped and deleted on exit."""
    configured = os.environ.get(TEST_DATABASE_URL_VAR, "").strip()
    if configured:
        yield normalize_url(configured)
        return
    # a private dir outside pytest's basetemp: the server runs as another user when we are
    # root, and pytest resets the permissions of its basetemp in every session. In memory
    # when possible: CREATE DATABASE per test is ~20x faster on tmpfs than on disk
    home = Path(tempfile.mkdtemp(prefix="tiktok_etl_pg_", dir=scratch_dir()))
    server = EmbeddedPostgres(home)
    try:
        url = server.start()
        with psycopg.connect(to_libpq_url(url), autocommit=True) as conn:
            for name, value in _FAST_SETTINGS.items():
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
            conn.execute("SELECT pg_reload_conf()")
        yield url
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def scratch_dir() -> str | None:
    """Where to put throwaway servers: ``/dev/shm`` if usable, else the temp default."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


@contextmanager
def fresh_database(server_url: str, prefix: str = "tiktok_etl_test") -> Iterator[str]:
    """A new empty database on the server of ``server_url``; dropped (forcibly) on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(to_libpq_url(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield (
            make_url(normalize_url(server_url))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(to_libpq_url(server_url), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def migrated_database(server_url: str) -> Iterator[sa.Engine]:
    """An engine on a fresh database with every migration applied."""
    with fresh_database(server_url) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            yield engine
        finally:
            engine.dispose()
