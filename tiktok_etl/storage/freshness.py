"""Per-partition freshness: which ``account|day`` partitions are stale, from our own bookkeeping.

Dagster's freshness policy judges an asset's newest materialization only, and its
``build_time_partition_freshness_checks`` refuses our account-by-day partitions. So the
judgement is made here, from ``tiktok_partition_writes`` (every partition write records its
time, see :mod:`~tiktok_etl.storage.partition_copies`).

The rule, for each active account (``tiktok_accounts.status = 'active'``, the accounts the
schedules refresh) and each judged table, as of a moment ``now`` (UTC):

- **today's** partition is stale if its newest write is older than ``today_max_age``
  (:data:`TODAY_MAX_AGE`, 1 hour: the 30-minute schedule refreshes it) or missing;
- a **past day inside the lookback** (the ``lookback_days`` days before today, which the
  daily lookback schedule re-reads) is stale if its newest write is older than
  ``past_max_age`` (:data:`PAST_MAX_AGE`, 26 hours: one daily re-read and some slack) or
  missing;
- days **before the lookback** are final: never stale;
- days before ``start_date`` (``TIKTOK_ETL_START_DATE``, the first partition day) or before
  the account was registered (its ``created_at`` UTC day) are not expected: never stale.

A write made after ``now`` (judging the past) counts as fresh. The query is one
parameterized statement; this module decides nothing about Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from tiktok_etl.storage.partitions import Bind, in_transaction
from tiktok_etl.storage.tables import PARTITION_WRITES

TODAY_MAX_AGE = timedelta(hours=1)
PAST_MAX_AGE = timedelta(hours=26)

# Every expected (table, account, day) of the judged window, with its newest write (NULL if
# none) and whether it is stale. Days come from generate_series per account, starting at the
# later of the window's first day and the account's registration day.
_EXPECTED_SQL = sa.text(
    f"""
    WITH active AS (
        SELECT account_key,
               GREATEST(CAST(:first_day AS date),
                        CAST((created_at AT TIME ZONE 'UTC') AS date)) AS first_day
        FROM tiktok_accounts
        WHERE status = 'active'
    ), expected AS (
        SELECT t.table_name, a.account_key, CAST(d AS date) AS date
        FROM active a
        CROSS JOIN LATERAL generate_series(
            CAST(a.first_day AS timestamp), CAST(:today AS timestamp), interval '1 day'
        ) AS d
        CROSS JOIN unnest(CAST(:tables AS text[])) AS t(table_name)
    )
    SELECT e.table_name, e.account_key, e.date, w.written_at,
           (w.written_at IS NULL OR w.written_at < CASE
                WHEN e.date = CAST(:today AS date) THEN CAST(:today_cutoff AS timestamptz)
                ELSE CAST(:past_cutoff AS timestamptz) END) AS stale
    FROM expected e
    LEFT JOIN {PARTITION_WRITES.name} w
        ON w.table_name = e.table_name AND w.account_key = e.account_key AND w.date = e.date
    ORDER BY e.table_name, e.date DESC, e.account_key
    """
)


@dataclass(frozen=True)
class StalePartition:
    """One stale partition: its newest write (None: never written)."""

    account_key: str
    day: date
    written_at: datetime | None

    @property
    def key(self) -> str:
        """``account|day``, the Dagster multi-partition key's string."""
        return f"{self.account_key}|{self.day.isoformat()}"


@dataclass(frozen=True)
class TableFreshness:
    """The judgement of one table: how many partitions were expected, which are stale
    (newest day first)."""

    table: str
    expected: int = 0
    stale: list[StalePartition] = field(default_factory=list)

    @property
    def fresh(self) -> bool:
        return not self.stale


def judged_days(now: datetime, lookback_days: int, start_date: date) -> tuple[date, date]:
    """The first and last (today's) day that can be stale as of ``now``; the first is after
    the last when none can (``start_date`` in the future)."""
    today = now.astimezone(UTC).date()
    return max(start_date, today - timedelta(days=lookback_days)), today


def partition_freshness(
    bind: Bind,
    tables: Sequence[str],
    *,
    now: datetime,
    lookback_days: int,
    start_date: date,
    today_max_age: timedelta = TODAY_MAX_AGE,
    past_max_age: timedelta = PAST_MAX_AGE,
) -> dict[str, TableFreshness]:
    """Each of ``tables`` judged by the module's rule as of ``now`` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    first_day, today = judged_days(now, lookback_days, start_date)
    params = {
        "first_day": first_day,
        "today": today,
        "tables": list(tables),
        "today_cutoff": now - today_max_age,
        "past_cutoff": now - past_max_age,
    }
    expected = {t: 0 for t in tables}
    stale: dict[str, list[StalePartition]] = {t: [] for t in tables}
    with in_transaction(bind) as conn:
        for row in conn.execute(_EXPECTED_SQL, params):
            expected[row.table_name] += 1
            if row.stale:
                stale[row.table_name].append(
                    StalePartition(row.account_key, row.date, row.written_at)
                )
    return {t: TableFreshness(t, expected[t], stale[t]) for t in tables}
