"""The one-off upgrade of a deployment from before own schemas: our objects leave ``public``.

Until migration 0008 every table of ours lived in ``public`` beside a ledger named
``schema_migrations``. :func:`~tiktok_etl.storage.migrations.migrate` calls
:func:`move_out_of_public` inside its first transaction, under the migrations' advisory
lock, so the move is all or nothing and happens once: it moves every object those
migrations created (tables with their indexes, constraints, identity and serial sequences,
plus the standalone sequence, the view and the functions) into the configured schema with
``ALTER ... SET SCHEMA``, and renames the ledger ``tiktok_etl_migrations`` there. Rows, grants
and object ids stay as they are; only the schema changes.

The lists below are frozen: they name what migrations 0001-0008 created in ``public``.
Later migrations create their objects in the configured schema and never belong here.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from psycopg import sql

from tiktok_etl.storage.db import driver_connection

_log = logging.getLogger(__name__)

LEGACY_LEDGER = "schema_migrations"
# the first version we ever shipped: a public.schema_migrations without it is not ours
# (Rails, golang-migrate and others use the same ledger name)
FIRST_VERSION = "0001_accounts_tokens"

LEGACY_TABLES: tuple[str, ...] = (
    "tiktok_accounts",
    "tiktok_tokens",
    "tiktok_users",
    "tiktok_videos",
    "tiktok_comments",
    "tiktok_rejects",
    "tiktok_comment_cache",
    "tiktok_video_links",
    "tiktok_comment_video_state",
    "sl_mentions",
    "tiktok_rate_slots",
    "tiktok_rate_waiters",
    "tiktok_rate_pauses",
    "tiktok_partition_writes",
    "tiktok_etl_meta",
)
LEGACY_VIEWS: tuple[str, ...] = ("sl_mentions_daily",)
LEGACY_SEQUENCES: tuple[str, ...] = ("tiktok_rate_tickets",)
LEGACY_FUNCTIONS: tuple[str, ...] = ("tiktok_rate_acquire", "tiktok_rate_release")


def holds_legacy_ledger(conn: sa.Connection) -> bool:
    """``public.schema_migrations`` exists and records our first migration."""
    if conn.execute(sa.text(f"SELECT to_regclass('public.{LEGACY_LEDGER}')")).scalar() is None:
        return False
    found = conn.execute(
        sa.text(f"SELECT 1 FROM public.{LEGACY_LEDGER} WHERE version::text = :v"),
        {"v": FIRST_VERSION},
    ).first()
    return found is not None


def _exists(conn: sa.Connection, name: str) -> bool:
    found = conn.execute(sa.text("SELECT to_regclass(:n)"), {"n": f"public.{name}"}).scalar()
    return found is not None


def move_out_of_public(conn: sa.Connection, schema: str, ledger: str) -> list[str]:
    """Move our objects from ``public`` into ``schema`` and rename the ledger ``ledger``
    (in the caller's transaction); returns the moved tables. Does nothing unless
    ``public`` holds our old ledger."""
    if not holds_legacy_ledger(conn):
        return []
    raw = driver_connection(conn)
    target = sql.Identifier(schema)
    moved: list[str] = []
    if schema != "public":
        for kind, names in (
            ("TABLE", LEGACY_TABLES),
            ("VIEW", LEGACY_VIEWS),
            ("SEQUENCE", LEGACY_SEQUENCES),
        ):
            for name in names:
                if not _exists(conn, name):
                    continue  # a deployment that stopped before the migration creating it
                raw.execute(
                    sql.SQL("ALTER {} public.{} SET SCHEMA {}").format(
                        sql.SQL(kind), sql.Identifier(name), target
                    )
                )
                if kind == "TABLE":
                    _log.info("moved table public.%s to %s.%s", name, schema, name)
                    moved.append(name)
        functions: Any = conn.execute(
            sa.text(
                "SELECT p.oid::regprocedure::text FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'public' AND p.proname = ANY(:names)"
            ),
            {"names": list(LEGACY_FUNCTIONS)},
        ).scalars()
        for signature in list(functions):
            # regprocedure text is a complete, quoted signature from the catalog itself
            move = sql.SQL("ALTER FUNCTION {} SET SCHEMA {}").format(sql.SQL(signature), target)
            raw.execute(move)
        raw.execute(
            sql.SQL("ALTER TABLE public.{} SET SCHEMA {}").format(
                sql.Identifier(LEGACY_LEDGER), target
            )
        )
    raw.execute(
        sql.SQL("ALTER TABLE {}.{} RENAME TO {}").format(
            target, sql.Identifier(LEGACY_LEDGER), sql.Identifier(ledger)
        )
    )
    _log.info("renamed the migrations ledger public.%s to %s.%s", LEGACY_LEDGER, schema, ledger)
    return moved
