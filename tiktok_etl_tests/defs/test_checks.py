"""Check results judged from partition counts (the counts themselves are storage's)."""

from __future__ import annotations

from dataclasses import replace

from tiktok_etl.defs.checks import (
    COUNTS_MATCH,
    IDS_PRESENT,
    IN_WINDOW,
    UNIQUE_KEYS,
    check_results,
    combine_checks,
)
from tiktok_etl.storage.checks import PartitionCounts

CLEAN = PartitionCounts(
    duplicate_keys=0, rows_missing_ids=0, rows_outside_window=0, postgres_rows=12, parquet_rows=12
)


def counts(**changes: int | str | None) -> PartitionCounts:
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


def test_equal_counts_from_different_writes_fail_the_consistency_check() -> None:
    results = {
        r.check_name: r
        for r in check_results(counts(postgres_write_id="write-b", parquet_write_id="write-a"))
    }

    assert not results[COUNTS_MATCH].passed
    assert results[COUNTS_MATCH].metadata["write_id_mismatch"].value == 1
    assert results[COUNTS_MATCH].metadata["postgres_write_id"].value == "write-b"
    assert results[COUNTS_MATCH].metadata["parquet_write_id"].value == "write-a"


def test_a_file_without_the_write_postgres_recorded_fails_the_consistency_check() -> None:
    results = {r.check_name: r for r in check_results(counts(postgres_write_id="write-b"))}

    assert not results[COUNTS_MATCH].passed


def test_copies_of_one_write_pass_and_a_backfill_counts_mismatched_partitions() -> None:
    same = check_results(counts(postgres_write_id="w1", parquet_write_id="w1"))
    apart = check_results(counts(postgres_write_id="w2", parquet_write_id="w1"))

    combined = {r.check_name: r for r in combine_checks([same, apart])}

    assert {r.check_name: r.passed for r in same}[COUNTS_MATCH]
    assert not combined[COUNTS_MATCH].passed
    assert combined[COUNTS_MATCH].metadata["write_id_mismatch"].value == 1
    assert combined[COUNTS_MATCH].metadata["partitions_failing"].value == 1
