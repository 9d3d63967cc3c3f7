"""``tiktok_rejects``: records that failed validation, kept with their payload and reason.

Nothing is silently dropped: a record the pipeline cannot load lands here instead. Rejects
belong to a partition of a table and are replaced with it, so re-running a partition does
not pile up duplicates; :func:`partitions.write_partition` does both in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from tiktok_etl.api.redaction import redact
from tiktok_etl.storage.coercion import clean_text, to_json_text

_log = logging.getLogger(__name__)


class Reject(NamedTuple):
    """One rejected record; any ``(payload, reason, kind)`` tuple is accepted too."""

    payload: Any
    reason: str
    kind: str


RejectInput = Reject | tuple[Any, str, str]


@dataclass(frozen=True)
class StoredReject:
    table_name: str
    account_key: str
    date: date
    kind: str
    reason: str
    payload: Any
    rejected_at: datetime


def replace_rejects(
    conn: sa.Connection,
    table: str,
    account_key: str,
    day: date,
    rejects: Sequence[RejectInput],
) -> int:
    """Replace the rejects of ``(table, account_key, day)`` within ``conn``'s transaction."""
    conn.execute(
        sa.text(
            "DELETE FROM tiktok_rejects "
            "WHERE table_name = :table AND account_key = :account_key AND date = :day"
        ),
        {"table": table, "account_key": account_key, "day": day},
    )
    if not rejects:
        return 0
    params = [
        {
            "table": table,
            "account_key": account_key,
            "day": day,
            "kind": clean_text(str(kind)),
            "reason": clean_text(str(reason)),
            # a payload must always be storable: non-JSON values become strings
            "payload": to_json_text(payload, lenient=True),
        }
        for payload, reason, kind in rejects
    ]
    conn.execute(
        sa.text(
            "INSERT INTO tiktok_rejects (table_name, account_key, date, kind, reason, payload) "
            "VALUES (:table, :account_key, :day, :kind, :reason, CAST(:payload AS jsonb))"
        ),
        params,
    )
    # reasons are our own validation messages; payloads (TikTok's data) stay in the table
    reasons = sorted({str(p["reason"]) for p in params})
    _log.warning(
        "%s %s|%s: %d record(s) rejected to tiktok_rejects: %s",
        table,
        account_key,
        day.isoformat(),
        len(params),
        redact("; ".join(reasons[:3]))
        + (f" (+{len(reasons) - 3} more)" if len(reasons) > 3 else ""),
    )
    return len(params)


def record_rejects(
    bind: sa.Engine | sa.Connection,
    table: str,
    account_key: str,
    day: date,
    rejects: Sequence[RejectInput],
) -> int:
    """Replace a partition's rejects on their own (prefer ``write_partition(rejects=...)``)."""
    if isinstance(bind, sa.Engine):
        with bind.begin() as conn:
            return replace_rejects(conn, table, account_key, day, rejects)
    return replace_rejects(bind, table, account_key, day, rejects)


def read_rejects(
    bind: sa.Engine | sa.Connection,
    table: str,
    account_key: str | None = None,
    day: date | None = None,
) -> list[StoredReject]:
    """Rejects of a table, optionally of one account and day, oldest first."""
    query = sa.text(
        "SELECT table_name, account_key, date, kind, reason, payload, rejected_at "
        "FROM tiktok_rejects WHERE table_name = :table "
        "AND (CAST(:account_key AS text) IS NULL OR account_key = :account_key) "
        "AND (CAST(:day AS date) IS NULL OR date = :day) "
        "ORDER BY id"
    )
    params = {"table": table, "account_key": account_key, "day": day}
    if isinstance(bind, sa.Engine):
        with bind.connect() as conn:
            rows: Sequence[Any] = conn.execute(query, params).all()
    else:
        rows = bind.execute(query, params).all()
    return [StoredReject(*row) for row in rows]
