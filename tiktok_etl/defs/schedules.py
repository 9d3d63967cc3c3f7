"""Schedules: today's partitions every 30 minutes, and a daily re-read of recent days.

Both ask the accounts table which accounts are active at tick time, so a new account is
scheduled as soon as it is registered and an account that needs re-authorization (or was
disabled) is skipped without failing the tick. A tick is a few ``tiktok_batch`` runs, not
one run per account-day: each run takes ``TIKTOK_ETL_BATCH_SIZE`` accounts with all of
their days (see :mod:`tiktok_etl.defs.batch`).
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from tiktok_etl.defs.batch import batch_run_config
from tiktok_etl.defs.jobs import batch_job
from tiktok_etl.defs.partitions import START_DATE_VAR, AccountDay, from_start
from tiktok_etl.defs.resources import TikTokConnectorResource


def _tick_time(context: dg.ScheduleEvaluationContext) -> datetime:
    scheduled = context.scheduled_execution_time
    return scheduled.astimezone(UTC) if scheduled else datetime.now(UTC)


def _requests(
    tiktok: TikTokConnectorResource, days: list[date], tick: datetime, label: str
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    days = from_start(days)
    if not days:
        yield dg.SkipReason(f"every day of this tick is before {START_DATE_VAR}")
        return
    accounts = tiktok.services().accounts.list(status="active")
    if not accounts:
        yield dg.SkipReason("no active TikTok accounts; add one with `tiktok-etl accounts add`")
        return
    size = tiktok.settings().batch_size
    batches = [accounts[i : i + size] for i in range(0, len(accounts), size)]
    for number, batch in enumerate(batches, start=1):
        # an account's days stay together, newest first: older days reuse its comment cache
        partitions = [AccountDay(a.account_key, day.isoformat()) for a in batch for day in days]
        yield dg.RunRequest(
            run_key=f"{label}@{tick.isoformat()}#{number}",
            run_config=batch_run_config(partitions),
            tags={
                "tiktok/schedule": label,
                "tiktok/batch": f"{number}/{len(batches)}",
                "tiktok/accounts": str(len(batch)),
                "tiktok/partitions": str(len(partitions)),
            },
        )


@dg.schedule(
    job=batch_job,
    cron_schedule="*/30 * * * *",
    execution_timezone="UTC",
    description="Refresh today's partition of every active account (metrics move all day).",
)
def tiktok_today_schedule(
    context: dg.ScheduleEvaluationContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    tick = _tick_time(context)
    yield from _requests(tiktok, [tick.date()], tick, "today")


def lookback_days(tick: datetime, lookback: int) -> list[date]:
    """The ``lookback`` full days before the tick's day, newest first."""
    return [tick.date() - timedelta(days=n) for n in range(1, lookback + 1)]


@dg.schedule(
    job=batch_job,
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
    description=(
        "Re-materialize the last TIKTOK_ETL_LOOKBACK_DAYS (default 7) days of every active "
        "account: late comments and metrics keep moving for weeks."
    ),
)
def tiktok_lookback_schedule(
    context: dg.ScheduleEvaluationContext, tiktok: TikTokConnectorResource
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    tick = _tick_time(context)
    days = lookback_days(tick, tiktok.services().lookback_days)
    yield from _requests(tiktok, days, tick, "lookback")
