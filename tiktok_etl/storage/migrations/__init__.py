"""Apply the frozen migrations in this package that a database has not seen yet.

Each ``NNNN_name.sql`` file is one migration; its file name without ``.sql`` is the version
recorded in ``schema_migrations``, and files apply in name order. A shipped file never
changes (databases remember versions, not contents): to change the schema, add the next
numbered file. The files are package data, read at run time; nothing renders SQL here.

Safe to call from every process on start-up: already-applied versions are skipped with a
single query, and pending ones are applied one transaction each under a transaction-level
advisory lock, so concurrent callers queue instead of colliding.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import psycopg
import sqlalchemy as sa

from tiktok_etl.storage.db import driver_connection
from tiktok_etl.storage.errors import MigrationError

_log = logging.getLogger(__name__)

LOCK_NAME = "tiktok_etl:migrations"

_FILE_NAME = re.compile(r"^(\d{4}_[a-z0-9_]+)\.sql$")

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
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
