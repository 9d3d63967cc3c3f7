"""Check results judged from partition counts (the counts themselves are storage's)."""

from __future__ import annotations

from dataclasses import replace

from tiktok_etl.defs.checks import (
    COUNTS_MATCH,
    IDS_PRESENT,
    IN_WINDOW,
    UNIQUE_KEYS,
    check_results,
)
from tiktok_etl.storage.checks import PartitionCounts

CLEAN = PartitionCounts(
    duplicate_keys=0, rows_missing_ids=0, rows_outside_window=0, postgres_rows=12, parquet_rows=12
)


def counts(**changes: int | None) -> PartitionCounts:
    return replace(CLEAN, **changes)


def test_a_clean_partition_passes_every_check() -> None:
    results = check_results(counts())

    assert [(r.check_name, r.passed) for r in results] == [
        (UNIQUE_KEYS, True),
        (IDS_PRESENT, True),
        (IN_WINDOW, True),
        (COUNTS_MATCH, True),
    ]


def test_each_count_fails_its_own_check_and_is_reported() -> None:
    results = {
        r.check_name: r
        for r in check_results(
            counts(duplicate_keys=2, rows_missing_ids=1, rows_outside_window=3, parquet_rows=11)
        )
    }

    assert not any(r.passed for r in results.values())
    assert results[UNIQUE_KEYS].metadata["duplicate_keys"].value == 2
    assert results[IDS_PRESENT].metadata["rows_missing_ids"].value == 1
    assert results[IN_WINDOW].metadata["rows_outside_window"].value == 3
    assert results[COUNTS_MATCH].metadata["postgres_rows"].value == 12
    assert results[COUNTS_MATCH].metadata["parquet_rows"].value == 11


def test_a_table_without_a_time_column_has_no_window_check() -> None:
    names = [r.check_name for r in check_results(counts(rows_outside_window=None))]

    assert IN_WINDOW not in names
