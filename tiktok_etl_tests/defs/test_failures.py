"""Only transient errors are retried: one rule (``defs/failures.py``) for every asset."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from tiktok_etl.api import ApiError, RateLimited, ServerError, TransportError
from tiktok_etl.defs.failures import as_failure, is_transient
from tiktok_etl.settings import ConfigError
from tiktok_etl.storage.errors import PartitionWriteError, TokenLockTimeout


def _wrapped(cause: BaseException) -> PartitionWriteError:
    try:
        raise cause
    except BaseException as exc:
        try:
            raise PartitionWriteError("tiktok_videos", "brand", "2026-11-08", exc) from exc
        except PartitionWriteError as wrapped:
            return wrapped
    raise AssertionError


def _sqlalchemy(cause: BaseException, invalidated: bool = False) -> sa.exc.DBAPIError:
    error = sa.exc.OperationalError("INSERT ...", {}, cause, connection_invalidated=invalidated)
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "exc",
    [
        RateLimited("/v2/video/list/", "rate_limit_exceeded"),
        ServerError("/v2/video/list/", "internal_error", http_status=503),
        TransportError("/v2/video/list/", "connection reset"),
        psycopg.OperationalError("server closed the connection unexpectedly"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.ConnectionFailure("connection failure"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        _wrapped(psycopg.errors.AdminShutdown("terminating connection")),
        _sqlalchemy(psycopg.OperationalError("consuming input failed")),
        _sqlalchemy(psycopg.InterfaceError("the connection is lost"), invalidated=True),
        TokenLockTimeout("brand", 30.0),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient_errors_are_retried(exc: BaseException) -> None:
    assert is_transient(exc)
    assert as_failure(exc, "brand|2026-11-08").allow_retries


@pytest.mark.parametrize(
    "exc",
    [
        ApiError("/v2/video/list/", "scope_not_authorized"),
        psycopg.errors.CheckViolation("new row violates check constraint"),
        psycopg.errors.NumericValueOutOfRange("bigint out of range"),
        psycopg.errors.UntranslatableCharacter("unsupported Unicode escape sequence"),
        _wrapped(psycopg.errors.UniqueViolation("duplicate key")),
        _sqlalchemy(psycopg.errors.UndefinedTable("relation does not exist")),
        ValueError("tiktok_videos row 3: video_id is required"),
        TypeError("tiktok_videos.like_count (bigint) expects int, got str"),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        ConfigError("TIKTOK_ETL_RATE_LIMIT_PER_MINUTE must be a positive integer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_deterministic_errors_fail_once_naming_what_failed(exc: BaseException) -> None:
    assert not is_transient(exc)
    failure = as_failure(exc, "tiktok_videos brand|2026-11-08")
    assert not failure.allow_retries
    assert failure.description is not None
    assert failure.description.startswith(f"tiktok_videos brand|2026-11-08: {type(exc).__name__}")
    assert str(exc) in failure.description or "TIKTOK_ETL" not in str(exc)


def test_a_failure_message_carries_no_token() -> None:
    failure = as_failure(ValueError("bad header: Bearer act.secret123"), "brand|2026-11-08")
    assert failure.description is not None and "secret123" not in failure.description
