"""Partitions: one per connected account and UTC day, e.g. ``acme_main|2026-11-05``.

The ``account`` dimension is dynamic: the ``tiktok_accounts`` table is the source of truth
and :mod:`tiktok_etl.defs.accounts_sync` keeps the Dagster partitions in step with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from tiktok_etl.runtime.registration import ACCOUNTS_PARTITIONS_NAME

FIRST_DAY = "2024-01-01"

accounts_partitions = dg.DynamicPartitionsDefinition(name=ACCOUNTS_PARTITIONS_NAME)
# end_offset=1 includes today's (still growing) day, which the 30-minute schedule refreshes
daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="UTC", end_offset=1)
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
