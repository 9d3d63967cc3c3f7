"""Which database errors are transient: the connection was lost, not the statement refused.

A step that failed because PostgreSQL went away mid-write (a restart, a failover, a network
cut, an administrator's ``pg_terminate_backend``) rolled back and can simply run again; one
that failed because PostgreSQL refused the data or the SQL will fail the same way every
time. :func:`is_transient_db_error` tells them apart from the error alone, walking the
exception's causes (SQLAlchemy and :class:`~tiktok_etl.storage.errors.PartitionWriteError`
wrap the driver's error). No connection, no retry policy: callers decide what to do.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import sqlalchemy as sa

# 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up);
# 40001 serialization_failure and 40P01 deadlock_detected succeed when simply run again
_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01"})
# class 08: connection exception
_CONNECTION_CLASS = "08"


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _driver_error_is_transient(error: psycopg.Error) -> bool:
    state = error.sqlstate
    if state is None:
        # no answer from the server at all: the socket closed or could not be opened
        return isinstance(error, psycopg.OperationalError)
    return state.startswith(_CONNECTION_CLASS) or state in _TRANSIENT_SQLSTATES


def is_transient_db_error(exc: BaseException) -> bool | None:
    """True for a lost connection (or a retryable transaction conflict), False for any other
    database error, None when ``exc`` did not come from the database at all."""
    for error in causes(exc):
        if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, psycopg.Error):
            return _driver_error_is_transient(error)
        if isinstance(error, sa.exc.DBAPIError | sa.exc.InterfaceError):
            continue  # its cause is the driver's error, classified above
    return None
