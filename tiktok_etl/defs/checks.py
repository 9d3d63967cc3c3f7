"""Data-quality checks run after every partition write, against what actually landed.

The counts come from :mod:`tiktok_etl.storage.checks` (PostgreSQL and the Parquet file, not
the in-memory rows, so a write that went wrong shows, not just a fetch that did). This
module declares the check specs and turns counts into results; it runs no query itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from tiktok_etl.ingest.window import DayWindow
from tiktok_etl.runtime import Services
from tiktok_etl.storage.checks import PartitionCounts
from tiktok_etl.storage.tables import TableSpec

UNIQUE_KEYS = "unique_natural_keys"
IDS_PRESENT = "identifiers_present"
IN_WINDOW = "timestamps_in_partition_window"
# compares the copies' write ids as well as their counts; the name predates the ids
COUNTS_MATCH = "postgres_parquet_counts_match"


@dataclass(frozen=True)
class CheckTarget:
    """A table and the columns its checks look at."""

    spec: TableSpec
    id_columns: tuple[str, ...]
    time_column: str | None


def check_specs(
    asset_key: str, target: CheckTarget, *, blocking: bool = False
) -> list[dg.AssetCheckSpec]:
    """The checks of ``asset_key``. ``blocking``: a failure (ERROR severity, the default)
    fails the asset's step, so Dagster skips what depends on it in the same run; the raw
    tables' checks block ``sl_mentions`` that way (the batch job, one step for many
    partitions, gates each partition itself with :func:`blocking_failures`)."""
    table = target.spec.name
    specs = [
        dg.AssetCheckSpec(
            UNIQUE_KEYS,
            asset=asset_key,
            description=f"{table}: no duplicate key",
            blocking=blocking,
        ),
        dg.AssetCheckSpec(
            IDS_PRESENT,
            asset=asset_key,
            description=f"{table}: identifiers are non-empty",
            blocking=blocking,
        ),
        dg.AssetCheckSpec(
            COUNTS_MATCH,
            asset=asset_key,
            blocking=blocking,
            description=(
                f"{table}: PostgreSQL and Parquet hold the same write (its id is in both) "
                "and the same number of rows"
            ),
        ),
    ]
    if target.time_column:
        specs.append(
            dg.AssetCheckSpec(
                IN_WINDOW,
                asset=asset_key,
                description=f"{table}: every {target.time_column} falls in the partition's UTC day",
                blocking=blocking,
            )
        )
    return specs


def check_results(counts: PartitionCounts) -> list[dg.AssetCheckResult]:
    """The checks of one partition, judged on the counts of what landed in it."""
    duplicates, missing, outside = (
        counts.duplicate_keys,
        counts.rows_missing_ids,
        counts.rows_outside_window,
    )
    results = [
        _result(UNIQUE_KEYS, duplicates == 0, duplicate_keys=duplicates),
        _result(IDS_PRESENT, missing == 0, rows_missing_ids=missing),
    ]
    if outside is not None:
        results.append(_result(IN_WINDOW, outside == 0, rows_outside_window=outside))
    same_write = counts.parquet_write_id == counts.postgres_write_id
    results.append(
        _result(
            COUNTS_MATCH,
            same_write and counts.parquet_rows == counts.postgres_rows,
            postgres_rows=counts.postgres_rows,
            parquet_rows=counts.parquet_rows,
            # 1 when the copies hold different writes; summed over a backfill's partitions
            write_id_mismatch=int(not same_write),
            postgres_write_id=counts.postgres_write_id or "",
            parquet_write_id=counts.parquet_write_id or "",
        )
    )
    return results


def blocking_failures(table: str, results: list[dg.AssetCheckResult]) -> list[str]:
    """``table.check`` for each failed result of a raw table: what keeps its partition's
    ``sl_mentions`` from being built."""
    return [f"{table}.{r.check_name}" for r in results if not r.passed]


def partition_checks(
    services: Services, target: CheckTarget, account_key: str, window: DayWindow
) -> list[dg.AssetCheckResult]:
    """The checks of one partition, on what landed in PostgreSQL and Parquet."""
    counts = services.checker.counts(
        target.spec,
        account_key,
        window,
        id_columns=target.id_columns,
        time_column=target.time_column,
    )
    return check_results(counts)


def _result(name: str, passed: bool, **metadata: int | str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name=name, passed=passed, metadata=metadata)


def combine_checks(per_partition: list[list[dg.AssetCheckResult]]) -> list[dg.AssetCheckResult]:
    """One result per check over every partition a step wrote: it passes only if it passed
    everywhere; counts are summed (text, such as a partition's write id, is dropped), and
    failing partitions are counted."""
    if len(per_partition) == 1:
        return per_partition[0]
    combined: dict[str, list[dg.AssetCheckResult]] = {}
    for results in per_partition:
        for result in results:
            combined.setdefault(str(result.check_name), []).append(result)
    out: list[dg.AssetCheckResult] = []
    for name, results in combined.items():
        totals: dict[str, int] = {}
        for result in results:
            for key, value in result.metadata.items():
                number = getattr(value, "value", value)
                if isinstance(number, int):
                    totals[key] = totals.get(key, 0) + number
        failing = sum(1 for r in results if not r.passed)
        out.append(
            dg.AssetCheckResult(
                check_name=name,
                passed=failing == 0,
                metadata={
                    **totals,
                    "partitions_checked": len(results),
                    "partitions_failing": failing,
                },
            )
        )
    return out
