"""Apply :data:`migrations_sql.MIGRATIONS` that a database has not seen yet.

Safe to call from every process on start-up: already-applied versions are skipped with a
single query, and pending ones are applied one transaction each under a transaction-level
advisory lock, so concurrent callers queue instead of colliding.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import psycopg
import sqlalchemy as sa

from tiktok_etl.storage.db import driver_connection
from tiktok_etl.storage.errors import MigrationError
from tiktok_etl.storage.migrations_sql import MIGRATIONS, Migration

_log = logging.getLogger(__name__)

LOCK_NAME = "tiktok_etl:migrations"

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def applied_versions(engine: sa.Engine) -> set[str]:
    """Versions recorded in ``schema_migrations`` (empty before the first migration)."""
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT to_regclass('schema_migrations')")).scalar()
        if exists is None:
            return set()
        return set(conn.execute(sa.text("SELECT version FROM schema_migrations")).scalars())


def migrate(engine: sa.Engine, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply pending migrations in order; returns the versions this call applied."""
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {versions}")
    done = applied_versions(engine)
    applied: list[str] = []
    for migration in migrations:
        if migration.version in done:
            continue
        with engine.begin() as conn:
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
                {"name": LOCK_NAME},
            )
            conn.execute(sa.text(_CREATE_LEDGER))
            already = conn.execute(
                sa.text("SELECT 1 FROM schema_migrations WHERE version = :v"),
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
                sa.text("INSERT INTO schema_migrations (version) VALUES (:v)"),
                {"v": migration.version},
            )
        _log.info("applied migration %s", migration.version)
        applied.append(migration.version)
    return applied
