"""Apply the frozen migrations in this package that a database has not seen yet.

Each ``NNNN_name.sql`` file is one migration; its file name without ``.sql`` is the version
recorded in the ``tiktok_etl_migrations`` ledger, and files apply in name order. A shipped
file never changes (databases remember versions, not contents): to change the schema, add the next
numbered file. The files are package data, read at run time; nothing renders SQL here.

Safe to call from every process on start-up: already-applied versions are skipped with a
single query, and pending ones are applied one transaction each under a transaction-level
advisory lock, so concurrent callers queue instead of colliding.

Everything lands in the engine's schema (``TIKTOK_ETL_PG_SCHEMA``, the first entry of the
search path :func:`~tiktok_etl.storage.db.make_engine` puts in its URL): the first
transaction creates the schema if missing and, for a deployment from before own schemas,
moves our objects out of ``public`` (:mod:`tiktok_etl.storage.legacy_schema`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import psycopg
import sqlalchemy as sa

from tiktok_etl.storage.db import driver_connection, ensure_schema, search_path_schema
from tiktok_etl.storage.errors import MigrationError
from tiktok_etl.storage.legacy_schema import move_out_of_public

_log = logging.getLogger(__name__)

LOCK_NAME = "tiktok_etl:migrations"

_FILE_NAME = re.compile(r"^(\d{4}_[a-z0-9_]+)\.sql$")

LEDGER = "tiktok_etl_migrations"

_CREATE_LEDGER = f"""
CREATE TABLE IF NOT EXISTS {LEDGER} (
    version text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    """One schema change: SQL text (possibly several statements) run in one transaction."""

    version: str
    sql: str


def load_migrations() -> list[Migration]:
    """The migration files shipped in this package, in version order."""
    folder = resources.files(__name__)
    migrations = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            if entry.name.endswith(".sql"):
                raise ValueError(f"migration file {entry.name!r} is not named NNNN_name.sql")
            continue
        migrations.append(Migration(match.group(1), entry.read_text(encoding="utf-8")))
    return sorted(migrations, key=lambda m: m.version)


MIGRATIONS: list[Migration] = load_migrations()


def applied_versions(engine: sa.Engine) -> set[str]:
    """Versions recorded in the ledger (empty before the first migration)."""
    with engine.connect() as conn:
        exists = conn.execute(sa.text(f"SELECT to_regclass('{LEDGER}')")).scalar()
        if exists is None:
            return set()
        return set(conn.execute(sa.text(f"SELECT version FROM {LEDGER}")).scalars())


def schema_of(engine: sa.Engine) -> str:
    """The schema the engine's connections work in (``public`` for an engine whose URL names
    no search path)."""
    return search_path_schema(engine.url) or "public"


def _lock(conn: sa.Connection) -> None:
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": LOCK_NAME}
    )


def _prepare(engine: sa.Engine) -> None:
    """Create the schema and the ledger, moving a pre-schema deployment first (one
    transaction, under the lock)."""
    schema = schema_of(engine)
    with engine.begin() as conn:
        _lock(conn)
        try:
            ensure_schema(driver_connection(conn), schema)
            if conn.execute(sa.text(f"SELECT to_regclass('{LEDGER}')")).scalar() is None:
                move_out_of_public(conn, schema, LEDGER)
        except psycopg.Error as exc:
            raise MigrationError(f"schema {schema} set-up", exc) from exc
        conn.execute(sa.text(_CREATE_LEDGER))


def migrate(engine: sa.Engine, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply pending migrations in order; returns the versions this call applied."""
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {versions}")
    done = applied_versions(engine)
    if set(versions) <= done:
        return []
    _prepare(engine)
    done = applied_versions(engine)
    applied: list[str] = []
    for migration in migrations:
        if migration.version in done:
            continue
        with engine.begin() as conn:
            _lock(conn)
            already = conn.execute(
                sa.text(f"SELECT 1 FROM {LEDGER} WHERE version = :v"),
                {"v": migration.version},
            ).first()
            if already is not None:
                continue  # another process applied it while we waited for the lock
            try:
                # no parameters: psycopg runs the (multi-statement) text as is
                driver_connection(conn).execute(migration.sql.encode())
            except psycopg.Error as exc:
                raise MigrationError(migration.version, exc) from exc
            conn.execute(
                sa.text(f"INSERT INTO {LEDGER} (version) VALUES (:v)"),
                {"v": migration.version},
            )
        _log.info("applied migration %s", migration.version)
        applied.append(migration.version)
    return applied
