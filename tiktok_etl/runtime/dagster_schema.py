"""The Dagster instance's own PostgreSQL schema (``TIKTOK_ETL_DAGSTER_PG_SCHEMA``).

dagster-postgres builds every engine from the URL it is given, and the URL's libpq
``options=-csearch_path=<schema>`` reaches each of its connections (psycopg2 passes URL
query parameters to libpq), so its alembic ledger, ``runs``, ``event_logs`` and the rest are
created and read in that schema. The schema must exist before dagster-postgres connects:
:func:`prepare_dagster_schema` creates it, and moves an existing instance's tables out of
``public`` first (a deployment from before own schemas), so run history is kept, never
silently replaced by an empty instance. The tables to move are the ones Dagster's own
SQLAlchemy metadata declares, plus alembic's ledger; their indexes and sequences follow.
"""

from __future__ import annotations

import logging

import psycopg
from dagster._core.storage.event_log.schema import SqlEventLogStorageMetadata
from dagster._core.storage.runs.schema import RunStorageSqlMetadata
from dagster._core.storage.schedules.schema import ScheduleStorageSqlMetadata
from psycopg import sql

from tiktok_etl.storage.db import ensure_schema, to_libpq_url

_log = logging.getLogger(__name__)

LOCK_NAME = "tiktok_etl:dagster_schema"


def dagster_tables() -> list[str]:
    """Every table dagster-postgres creates, alembic's ledger included."""
    names = {"alembic_version"}
    for metadata in (RunStorageSqlMetadata, SqlEventLogStorageMetadata, ScheduleStorageSqlMetadata):
        names.update(metadata.tables)
    return sorted(names)


def _in_schema(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s", (schema, table)
    ).fetchone()
    return row is not None


def prepare_dagster_schema(url: str, schema: str) -> list[str]:
    """Create ``schema`` if missing and, when ``public`` holds an instance (``runs``) and
    ``schema`` does not, move its tables there in one transaction; returns the moved tables."""
    with psycopg.connect(to_libpq_url(url)) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (LOCK_NAME,))
        ensure_schema(conn, schema)
        if schema == "public" or _in_schema(conn, schema, "runs"):
            return []
        if not _in_schema(conn, "public", "runs"):
            return []
        moved = []
        for table in dagster_tables():
            if not _in_schema(conn, "public", table):
                continue
            conn.execute(
                sql.SQL("ALTER TABLE public.{} SET SCHEMA {}").format(
                    sql.Identifier(table), sql.Identifier(schema)
                )
            )
            _log.info("moved Dagster table public.%s to %s.%s", table, schema, table)
            moved.append(table)
        return moved
