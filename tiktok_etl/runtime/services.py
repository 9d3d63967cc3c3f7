"""The typed services the Dagster layer uses, built from one :class:`Runtime`.

Assets, checks, schedules and sensors ask these for what they need (the accounts, a
partition writer and reader, the mentions store, the comment cache, the connector) instead
of reaching into the runtime's engine, settings or paths. Each service only forwards to the
storage, ingest or connector code that does the work; nothing here knows about Dagster, and
nothing here decides what a partition should contain.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from tiktok_etl.ingest.window import DayWindow
from tiktok_etl.runtime import Runtime
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.storage.accounts import AccountStore
from tiktok_etl.storage.checks import PartitionCounts, partition_counts
from tiktok_etl.storage.comment_cache import CommentCache
from tiktok_etl.storage.lookups import video_share_urls
from tiktok_etl.storage.mentions_store import UpsertResult
from tiktok_etl.storage.metrics_copies import (
    AccountDaysWritten,
    SnapshotWritten,
    write_account_days,
    write_video_snapshot,
)
from tiktok_etl.storage.partition_copies import write_mention_copies, write_partition_copies
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.rejects import RejectInput
from tiktok_etl.storage.tables import TableSpec


@dataclass(frozen=True)
class WrittenPartition:
    """One raw partition after its write: the rows it replaced and its Parquet file."""

    rows_replaced: int
    parquet_path: str
    write_id: str


@dataclass(frozen=True)
class WrittenMentions:
    """One ``sl_mentions`` partition after its upsert and Parquet export."""

    upserted: UpsertResult
    parquet_path: str
    write_id: str


@dataclass(frozen=True)
class PartitionWriter:
    """Replaces a raw table's partition in PostgreSQL (rows and rejects) and its Parquet file
    as one write, under the partition's lock (see :mod:`tiktok_etl.storage.partition_copies`).
    A failure before the PostgreSQL commit leaves the previous version in both."""

    engine: sa.Engine = field(repr=False)
    parquet_root: str

    def write(
        self,
        spec: TableSpec,
        account_key: str,
        day: date,
        rows: Sequence[Mapping[str, Any]],
        rejects: Sequence[RejectInput],
    ) -> WrittenPartition:
        written = write_partition_copies(
            self.engine, self.parquet_root, spec, account_key, day, rows, rejects=rejects
        )
        return WrittenPartition(
            rows_replaced=written.postgres.rows_deleted,
            parquet_path=written.parquet_path,
            write_id=written.write_id,
        )


@dataclass(frozen=True)
class PartitionReader:
    """Reads what the raw assets already wrote to PostgreSQL."""

    engine: sa.Engine = field(repr=False)

    def rows(self, spec: TableSpec, account_key: str, day: date) -> list[dict[str, Any]]:
        return read_partition(self.engine, spec, account_key, day)

    def video_share_urls(self, account_key: str, video_ids: Collection[str]) -> dict[str, str]:
        return video_share_urls(self.engine, account_key, video_ids)


@dataclass(frozen=True)
class MentionsWriter:
    """Upserts a partition's mentions, then exports what PostgreSQL holds to Parquet in the
    same transaction and under the same lock, so both copies carry the same write, workflow
    columns included."""

    engine: sa.Engine = field(repr=False)
    parquet_root: str

    def write(self, account_key: str, day: date, mentions: Iterable[Any]) -> WrittenMentions:
        written = write_mention_copies(self.engine, self.parquet_root, account_key, day, mentions)
        return WrittenMentions(
            upserted=written.upserted, parquet_path=written.parquet_path, write_id=written.write_id
        )


@dataclass(frozen=True)
class MetricsWriter:
    """Writes the metric-history tables (see :mod:`tiktok_etl.storage.metrics_copies`)."""

    engine: sa.Engine = field(repr=False)
    parquet_root: str

    def snapshot(
        self,
        account_key: str,
        day: date,
        *,
        metrics: Sequence[Mapping[str, Any]],
        breakdowns: Sequence[Mapping[str, Any]],
        rejects: Sequence[RejectInput],
        breakdown_rejects: Sequence[RejectInput],
    ) -> SnapshotWritten:
        return write_video_snapshot(
            self.engine,
            self.parquet_root,
            account_key,
            day,
            metrics=metrics,
            breakdowns=breakdowns,
            rejects=rejects,
            breakdown_rejects=breakdown_rejects,
        )

    def account_days(
        self,
        account_key: str,
        day: date,
        rows: Mapping[date, Mapping[str, Any]],
        rejects: Sequence[RejectInput],
    ) -> AccountDaysWritten:
        return write_account_days(self.engine, self.parquet_root, account_key, day, rows, rejects)


@dataclass(frozen=True)
class PartitionChecker:
    """Counts what one partition holds, in PostgreSQL and in its Parquet file."""

    engine: sa.Engine = field(repr=False)
    parquet_root: str

    def counts(
        self,
        spec: TableSpec,
        account_key: str,
        window: DayWindow,
        *,
        id_columns: Sequence[str],
        time_column: str | None,
    ) -> PartitionCounts:
        return partition_counts(
            self.engine,
            self.parquet_root,
            spec,
            id_columns=id_columns,
            time_column=time_column,
            account_key=account_key,
            day=window.day,
            start=window.start,
            end=window.end,
        )


@dataclass(frozen=True)
class Services:
    """Everything the Dagster layer uses, for one process; build with :meth:`of`."""

    accounts: AccountStore
    writer: PartitionWriter
    reader: PartitionReader
    mentions: MentionsWriter
    checker: PartitionChecker
    comment_cache: CommentCache
    comment_workers: int
    lookback_days: int
    _runtime: Runtime = field(repr=False)
    metrics_writer: MetricsWriter
    metrics_max_age_days: int

    @classmethod
    def of(cls, runtime: Runtime) -> Services:
        engine = runtime.engine
        root = runtime.settings.parquet_root
        return cls(
            accounts=runtime.accounts,
            writer=PartitionWriter(engine, root),
            reader=PartitionReader(engine),
            mentions=MentionsWriter(engine, root),
            checker=PartitionChecker(engine, root),
            comment_cache=CommentCache(engine),
            comment_workers=runtime.settings.comment_workers,
            lookback_days=runtime.settings.lookback_days,
            _runtime=runtime,
            metrics_writer=MetricsWriter(engine, root),
            metrics_max_age_days=runtime.settings.metrics_max_age_days,
        )

    @contextmanager
    def connector(self) -> Iterator[Connector]:
        """A connector with its own request counters, for one step."""
        connector = Connector.open(self._runtime)
        try:
            yield connector
        finally:
            connector.close()
