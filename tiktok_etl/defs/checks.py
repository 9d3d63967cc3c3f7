"""Data-quality checks run after every partition write, against what actually landed.

They query PostgreSQL and the Parquet file rather than the in-memory rows, so they catch a
write that went wrong, not just a fetch that did.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import sqlalchemy as sa

from tiktok_etl.ingest.window import DayWindow
from tiktok_etl.storage.parquet import count_parquet_partition
from tiktok_etl.storage.tables import TableSpec, quote_ident

UNIQUE_KEYS = "unique_natural_keys"
IDS_PRESENT = "identifiers_present"
IN_WINDOW = "timestamps_in_partition_window"
COUNTS_MATCH = "postgres_parquet_counts_match"


@dataclass(frozen=True)
class CheckTarget:
    spec: TableSpec
    id_columns: tuple[str, ...]
    time_column: str | None


def check_specs(asset_key: str, target: CheckTarget) -> list[dg.AssetCheckSpec]:
    table = target.spec.name
    specs = [
        dg.AssetCheckSpec(UNIQUE_KEYS, asset=asset_key, description=f"{table}: no duplicate key"),
        dg.AssetCheckSpec(
            IDS_PRESENT, asset=asset_key, description=f"{table}: identifiers are non-empty"
        ),
        dg.AssetCheckSpec(
            COUNTS_MATCH,
            asset=asset_key,
            description=f"{table}: PostgreSQL and Parquet hold the same number of rows",
        ),
    ]
    if target.time_column:
        specs.append(
            dg.AssetCheckSpec(
                IN_WINDOW,
                asset=asset_key,
                description=f"{table}: every {target.time_column} falls in the partition's UTC day",
            )
        )
    return specs


def _scalar(conn: sa.Connection, sql: str, params: dict) -> int:
    return int(conn.execute(sa.text(sql), params).scalar_one())


def run_checks(
    engine: sa.Engine,
    parquet_root: str,
    target: CheckTarget,
    account_key: str,
    window: DayWindow,
) -> list[dg.AssetCheckResult]:
    spec = target.spec
    table = quote_ident(spec.name)
    where = "account_key = :a AND date = :d"
    params = {"a": account_key, "d": window.day, "s": window.start, "e": window.end}
    key_cols = ", ".join(quote_ident(c) for c in spec.key)
    results: list[dg.AssetCheckResult] = []
    with engine.connect() as conn:
        duplicates = _scalar(
            conn,
            f"SELECT count(*) FROM (SELECT {key_cols} FROM {table} WHERE {where} "
            f"GROUP BY {key_cols} HAVING count(*) > 1) d",
            params,
        )
        results.append(_result(UNIQUE_KEYS, duplicates == 0, duplicate_keys=duplicates))
        missing_sql = " OR ".join(
            f"{quote_ident(c)} IS NULL OR {quote_ident(c)} = ''" for c in target.id_columns
        )
        missing = _scalar(
            conn, f"SELECT count(*) FROM {table} WHERE {where} AND ({missing_sql})", params
        )
        results.append(_result(IDS_PRESENT, missing == 0, rows_missing_ids=missing))
        if target.time_column:
            col = quote_ident(target.time_column)
            outside = _scalar(
                conn,
                f"SELECT count(*) FROM {table} WHERE {where} AND ({col} < :s OR {col} >= :e)",
                params,
            )
            results.append(_result(IN_WINDOW, outside == 0, rows_outside_window=outside))
        pg_rows = _scalar(conn, f"SELECT count(*) FROM {table} WHERE {where}", params)
    parquet_rows = count_parquet_partition(parquet_root, spec, account_key, window.day)
    results.append(
        _result(
            COUNTS_MATCH,
            parquet_rows == pg_rows,
            postgres_rows=pg_rows,
            parquet_rows=parquet_rows if parquet_rows is not None else -1,
        )
    )
    return results


def _result(name: str, passed: bool, **metadata: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name=name, passed=passed, metadata=metadata)


def combine_checks(per_partition: list[list[dg.AssetCheckResult]]) -> list[dg.AssetCheckResult]:
    """One result per check over every partition a step wrote: it passes only if it passed
    everywhere; counts are summed, and failing partitions are counted."""
    if len(per_partition) == 1:
        return per_partition[0]
    combined: dict[str, list[dg.AssetCheckResult]] = {}
    for results in per_partition:
        for result in results:
            combined.setdefault(str(result.check_name), []).append(result)
    out = []
    for name, results in combined.items():
        totals: dict[str, int] = {}
        for result in results:
            for key, value in result.metadata.items():
                totals[key] = totals.get(key, 0) + int(getattr(value, "value", value))
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
