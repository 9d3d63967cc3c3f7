"""What a failed step becomes: a ``dg.Failure`` that Dagster retries only when retrying helps.

Every asset body runs inside :func:`classified_failures`. The assets' retry policies would
otherwise retry *any* exception, so a record or a setting that fails deterministically
would fail three more times, minutes apart, calling TikTok each time. Retried (transient):
throttling, TikTok server errors and transport failures that outlasted the transport's own
retries, a PostgreSQL connection lost mid-write (see
:mod:`tiktok_etl.storage.transient`), and a token lock another worker held too long.
Everything else fails once, with a message naming the partition and the error, whose text
names the record, column or setting. Messages are redacted: no token reaches the event log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from tiktok_etl.api import (
    IncompleteListing,
    RateLimited,
    ServerError,
    TikTokError,
    TransportError,
)
from tiktok_etl.api.redaction import redact
from tiktok_etl.storage.errors import TokenLockTimeout
from tiktok_etl.storage.transient import causes, is_transient_db_error

# worth retrying the step for; TikTok scope, token and parameter errors are not
TRANSIENT_ERRORS = (
    RateLimited,
    ServerError,
    TransportError,
    IncompleteListing,
    TokenLockTimeout,
)


def is_transient(exc: BaseException) -> bool:
    """Whether running the step again could succeed without anyone changing anything."""
    database = is_transient_db_error(exc)
    if database is not None:
        return database
    for error in causes(exc):
        if isinstance(error, TRANSIENT_ERRORS):
            return True
        if isinstance(error, TikTokError):
            return False
    return False


def as_failure(exc: BaseException, subject: str) -> dg.Failure:
    """``exc`` as a Failure about ``subject`` (e.g. ``account|day``), retried only if
    transient."""
    transient = is_transient(exc)
    verdict = "transient, retried" if transient else "not retried: it would fail the same way"
    return dg.Failure(
        description=f"{subject}: {type(exc).__name__}: {redact(str(exc))} ({verdict})",
        allow_retries=transient,
    )


@contextmanager
def classified_failures(subject: str) -> Iterator[None]:
    """Turn any exception of the block into :func:`as_failure`; a Failure passes as is."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        raise as_failure(exc, subject) from exc
