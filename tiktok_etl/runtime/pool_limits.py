"""Create a pool's default limit once, however many runs start at the same moment.

The first step of a run that finds no limit for its pool (``tiktok_api``) asks the event
log to create the default one (``concurrency: pools: default_limit`` in ``dagster.yaml``).
Dagster 1.13 does that with a plain ``INSERT`` and catches the ``IntegrityError`` when the
row exists; on PostgreSQL that error has already aborted the transaction, so the run that
lost the race fails on the next statement (``UniqueViolation`` on
``concurrency_limits_concurrency_key_key``). Four runs starting at once on a fresh instance
lose one run this way; an edited ``default_limit`` fails every run the same way.

:func:`initialize_default_limit` does the same job under a transaction-level advisory lock,
reading the row before writing it, so concurrent callers (threads, processes, machines)
serialize and every one of them succeeds. A limit an operator set explicitly
(``dagster instance concurrency set``) is never replaced by the default. This module only
touches Dagster's own tables, through Dagster's own table definitions.
"""

from __future__ import annotations

import sqlalchemy as sa
from dagster._core.storage.event_log.schema import ConcurrencyLimitsTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

# one lock for every pool's limit row: creating a limit is rare, and never hot
_LOCK_NAME = "tiktok_etl:dagster_pool_limits"


def initialize_default_limit(storage: SqlEventLogStorage, concurrency_key: str) -> bool | None:
    """Give ``concurrency_key`` the instance's default limit unless it has one already.

    Returns what Dagster's method returns (``True``: the pool is limited as configured), or
    ``None`` when this storage's schema predates default limits: then Dagster's own method
    is the right one and the caller falls back to it.
    """
    if not (storage.has_concurrency_limits_table and storage.has_default_pool_limit_col):
        return None
    if not storage.has_instance:
        return False
    default_limit = storage._instance.global_op_concurrency_default_limit
    limits = ConcurrencyLimitsTable
    with storage.index_transaction() as conn:
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
            {"name": _LOCK_NAME},
        )
        row = conn.execute(
            sa.select(limits.c.limit, limits.c.using_default_limit).where(
                limits.c.concurrency_key == concurrency_key
            )
        ).fetchone()
        if row is not None and not row.using_default_limit:
            return True  # an operator's explicit limit: not ours to change
        if default_limit is None:
            if row is not None:
                conn.execute(limits.delete().where(limits.c.concurrency_key == concurrency_key))
                storage._allocate_concurrency_slots(conn, concurrency_key, 0)
            return True
        if row is None:
            conn.execute(
                limits.insert().values(
                    concurrency_key=concurrency_key, limit=default_limit, using_default_limit=True
                )
            )
        elif row.limit != default_limit:
            conn.execute(
                limits.update()
                .where(limits.c.concurrency_key == concurrency_key)
                .values(limit=default_limit)
            )
        storage._allocate_concurrency_slots(conn, concurrency_key, default_limit)
    return True
