"""Session-level PostgreSQL advisory locks: mutual exclusion across threads, processes and
machines that share the database, held without an open transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa


class LockTimeout(TimeoutError):
    """The lock was not acquired within the timeout."""


@contextmanager
def advisory_lock(engine: sa.Engine, name: str, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the advisory lock ``name`` (blocking; :class:`LockTimeout` after ``timeout`` s).

    The lock lives on a dedicated autocommit connection, so no transaction stays open while
    the caller works (an HTTP call, say); it is released on exit, or by the server if the
    process dies.
    """
    params = {"name": name}
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    acquired = False
    try:
        if timeout is not None:
            conn.execute(
                sa.text("SELECT set_config('lock_timeout', :ms, false)"),
                {"ms": f"{max(1, int(timeout * 1000))}ms"},
            )
        try:
            conn.execute(sa.text("SELECT pg_advisory_lock(hashtextextended(:name, 0))"), params)
        except sa.exc.OperationalError as exc:
            if isinstance(exc.orig, psycopg.errors.LockNotAvailable):
                raise LockTimeout(name) from None
            raise
        acquired = True
        yield
    finally:
        try:
            if acquired:
                conn.execute(
                    sa.text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))"), params
                )
            if timeout is not None:
                conn.execute(sa.text("RESET lock_timeout"))
        except sa.exc.DBAPIError:
            conn.invalidate()  # closing the session releases its locks
        finally:
            conn.close()
