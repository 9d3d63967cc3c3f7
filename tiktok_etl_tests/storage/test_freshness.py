"""Per-partition freshness from ``tiktok_partition_writes``, judged at an injected "now"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tiktok_etl.storage.freshness import partition_freshness

NOW = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)
TODAY = NOW.date()
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
TABLES = ["tiktok_users", "sl_mentions"]


def _account(engine: sa.Engine, key: str, *, created: datetime, status: str = "active") -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tiktok_accounts (account_key, api, open_id, status, created_at) "
                "VALUES (:k, 'business', :o, :s, :c)"
            ),
            {"k": key, "o": f"{key}-open-id", "s": status, "c": created},
        )


def _write(engine: sa.Engine, table: str, key: str, day: date, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tiktok_partition_writes "
                "(table_name, account_key, date, write_id, row_count, written_at) "
                "VALUES (:t, :a, :d, 'w', 1, :at)"
            ),
            {"t": table, "a": key, "d": day, "at": at},
        )


def _day(n: int) -> date:
    return TODAY - timedelta(days=n)


def _stale_keys(engine: sa.Engine, table: str = "tiktok_users", **kw: object) -> list[str]:
    args: dict = {"now": NOW, "lookback_days": 3, "start_date": date(2024, 1, 1)} | kw
    judged = partition_freshness(engine, TABLES, **args)
    return [p.key for p in judged[table].stale]


def test_today_is_stale_after_an_hour_or_when_missing(engine: sa.Engine) -> None:
    _account(engine, "fresh", created=LONG_AGO)
    _account(engine, "late", created=LONG_AGO)
    _account(engine, "never", created=LONG_AGO)
    _write(engine, "tiktok_users", "fresh", TODAY, NOW - timedelta(minutes=59))
    _write(engine, "tiktok_users", "late", TODAY, NOW - timedelta(minutes=61))
    for key in ("fresh", "late", "never"):
        for n in (1, 2, 3):
            _write(engine, "tiktok_users", key, _day(n), NOW - timedelta(hours=2))

    assert _stale_keys(engine) == [f"late|{TODAY}", f"never|{TODAY}"]
    # the other table has no write at all: every expected partition of it is stale
    judged = partition_freshness(
        engine, TABLES, now=NOW, lookback_days=3, start_date=date(2024, 1, 1)
    )
    assert judged["tiktok_users"].expected == 12
    assert judged["sl_mentions"].expected == 12
    assert len(judged["sl_mentions"].stale) == 12
    assert not judged["tiktok_users"].fresh


def test_past_days_in_the_lookback_allow_a_day_and_a_bit(engine: sa.Engine) -> None:
    _account(engine, "a", created=LONG_AGO)
    _write(engine, "tiktok_users", "a", TODAY, NOW)
    _write(engine, "tiktok_users", "a", _day(1), NOW - timedelta(hours=25, minutes=59))
    _write(engine, "tiktok_users", "a", _day(2), NOW - timedelta(hours=26, minutes=1))
    # _day(3) missing; _day(4) and older are before the 3-day lookback: final
    _write(engine, "tiktok_users", "a", _day(5), LONG_AGO)

    assert _stale_keys(engine) == [f"a|{_day(2)}", f"a|{_day(3)}"]


def test_days_before_the_lookback_are_never_stale(engine: sa.Engine) -> None:
    _account(engine, "a", created=LONG_AGO)
    assert _stale_keys(engine, lookback_days=1) == [f"a|{TODAY}", f"a|{_day(1)}"]


def test_days_before_start_date_or_registration_are_not_expected(engine: sa.Engine) -> None:
    _account(engine, "old", created=LONG_AGO)
    # registered yesterday evening UTC (created_at in another zone must not shift the day)
    _account(engine, "new", created=datetime(2026, 11, 9, 23, 0, tzinfo=UTC))
    assert _stale_keys(engine, start_date=_day(1)) == [
        f"new|{TODAY}",
        f"old|{TODAY}",
        f"new|{_day(1)}",
        f"old|{_day(1)}",
    ]
    assert _stale_keys(engine) == [
        f"new|{TODAY}",
        f"old|{TODAY}",
        f"new|{_day(1)}",
        f"old|{_day(1)}",
        f"old|{_day(2)}",
        f"old|{_day(3)}",
    ]
    # a start date after today: nothing is expected yet
    assert _stale_keys(engine, start_date=_day(-1)) == []


@pytest.mark.parametrize("status", ["reauth_required", "revoked", "disabled"])
def test_only_active_accounts_are_judged(engine: sa.Engine, status: str) -> None:
    _account(engine, "off", created=LONG_AGO, status=status)
    assert _stale_keys(engine) == []


def test_a_write_after_now_counts_as_fresh(engine: sa.Engine) -> None:
    _account(engine, "a", created=LONG_AGO)
    for n in range(4):
        _write(engine, "tiktok_users", "a", _day(n), NOW + timedelta(days=3))
    assert _stale_keys(engine) == []


def test_now_must_be_timezone_aware(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        partition_freshness(
            engine, TABLES, now=datetime(2026, 11, 10), lookback_days=1, start_date=TODAY
        )
