"""Partitions: one per connected account and UTC day, e.g. ``acme_main|2026-11-05``.

The ``account`` dimension is dynamic: the ``tiktok_accounts`` table is the source of truth
and :mod:`tiktok_etl.defs.accounts_sync` keeps the Dagster partitions in step with it.

The ``date`` dimension starts at ``TIKTOK_ETL_START_DATE``, read when the definitions load:
Dagster needs a partition set then, not later. Its default is a fixed day, never "today
minus N", so every process and every day sees the same partition set (a moving start would
change it under running sensors and backfills). Days before it are no partitions: the
schedules skip them (:func:`from_start`) and the commands that take a day refuse them
(:func:`require_from_start`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import dagster as dg

from tiktok_etl.runtime.registration import ACCOUNTS_PARTITIONS_NAME
from tiktok_etl.settings import ConfigError, setting_for

START_DATE_VAR = "TIKTOK_ETL_START_DATE"


def start_date_from_env() -> date:
    """``TIKTOK_ETL_START_DATE`` (or its default); a ConfigError naming it if invalid."""
    value: date = setting_for(START_DATE_VAR).read(os.environ.get(START_DATE_VAR, ""), {})
    return value


START_DATE: date = start_date_from_env()

accounts_partitions = dg.DynamicPartitionsDefinition(name=ACCOUNTS_PARTITIONS_NAME)
# end_offset=1 includes today's (still growing) day, which the 30-minute schedule refreshes
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=START_DATE.isoformat(), timezone="UTC", end_offset=1
)
account_day_partitions = dg.MultiPartitionsDefinition(
    {"account": accounts_partitions, "date": daily_partitions}
)


@dataclass(frozen=True)
class AccountDay:
    account_key: str
    day: str

    @property
    def partition_key(self) -> dg.MultiPartitionKey:
        return dg.MultiPartitionKey({"account": self.account_key, "date": self.day})

    @classmethod
    def all_from_context(
        cls, context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext
    ) -> list[AccountDay]:
        """Every partition of the step: one, or a range when a backfill groups partitions."""
        out = []
        for key in context.partition_keys:
            parsed = account_day_partitions.get_partition_key_from_str(str(key))
            dims = parsed.keys_by_dimension
            out.append(cls(account_key=dims["account"], day=dims["date"]))
        return out


class DayBeforeStart(ConfigError):
    """A day before the first partition day was asked for: there is no such partition."""

    def __init__(self, day: date, start: date, what: str) -> None:
        super().__init__(
            f"{what}: {day.isoformat()} is before the first partition day "
            f"{start.isoformat()}; ask for days from {start.isoformat()} on, or set "
            f"{START_DATE_VAR} earlier"
        )
        self.day = day
        self.start = start


def require_from_start(day: date, what: str, start: date = START_DATE) -> date:
    """``day`` if it is a partition day, else :class:`DayBeforeStart` naming ``what``."""
    if day < start:
        raise DayBeforeStart(day, start, what)
    return day


def from_start(days: Iterable[date], start: date = START_DATE) -> list[date]:
    """The days that are partitions (on or after the start), in the given order."""
    return [day for day in days if day >= start]
