"""The open copy: one Parquet file per partition, in a hive-partitioned layout.

Layout: ``<root>/<table>/account_key=<key>/date=<YYYY-MM-DD>/part-0.parquet``. The folder
names are the PostgreSQL column names, so hive-partitioned readers (pyarrow datasets,
DuckDB ``hive_partitioning``, Polars, Spark) give every row ``account_key`` and ``date``
exactly as the tables do. The values live in the folder names only, not in the files: with
the column in both, pyarrow refuses to merge the two (``Unable to merge: Field date has
incompatible types``) while DuckDB silently prefers one. Readers should declare the types
(:data:`HIVE_PARTITIONING_SCHEMA`; DuckDB: ``hive_types = {'account_key': VARCHAR, 'date':
DATE}``): an all-digit account key would otherwise be inferred as a number. Folders named
``account=<key>`` by earlier releases are renamed by :mod:`tiktok_etl.storage.parquet_layout`.

A file appears whole or not at all (:mod:`tiktok_etl.storage.whole_files`): on a local disk it
is written under a temporary dot name, fsynced and renamed; on an object store it is written
once, to its final key (an S3 PUT is atomic; a rename there would be a copy and a delete).
A file can carry the id of the partition write that produced it in its key-value metadata
(:data:`WRITE_ID_KEY`; DuckDB: ``parquet_kv_metadata``), the id PostgreSQL records for the
same write, so a check can tell that both copies are one version.
A failed write leaves the previous file and nothing else. An empty partition writes an empty
file with the schema, so a re-run that finds nothing replaces stale data. ``root`` is a local
path or a URL pyarrow understands (``s3://bucket/prefix``: credentials, endpoint and region
come from the standard AWS environment).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from tiktok_etl.storage.coercion import prepare_rows
from tiktok_etl.storage.tables import TableSpec
from tiktok_etl.storage.whole_files import StoreKind, open_store, writing_whole

FILE_NAME = "part-0.parquet"
# the hive folder of each partition column: the column's own name
ACCOUNT_FOLDER = "account_key"
HIVE_PARTITIONING_SCHEMA = pa.schema([(ACCOUNT_FOLDER, pa.string()), ("date", pa.date32())])
# the file's key-value metadata entry naming the partition write it holds
WRITE_ID_KEY = b"tiktok_etl.write_id"


def to_arrow(spec: TableSpec, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows (of a single partition) as an Arrow table with the spec's full schema.

    Values are validated and cleaned exactly as for PostgreSQL; ``jsonb`` becomes JSON text.
    """
    if not rows:
        return spec.arrow_schema().empty_table()
    first = rows[0]
    prepared = prepare_rows(spec, first["account_key"], first["date"], rows)
    return _table(spec, prepared)


def _table(spec: TableSpec, prepared: Sequence[tuple[Any, ...]]) -> pa.Table:
    schema = spec.arrow_schema()
    columns = list(zip(*prepared, strict=True)) if prepared else [()] * len(spec.columns)
    arrays = [
        pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def file_schema(spec: TableSpec) -> pa.Schema:
    """The schema inside each file: the spec's columns minus the partition columns."""
    return spec.arrow_schema(exclude=spec.partition_columns)


def partition_dir(root: str, spec: TableSpec, account_key: str, day: date) -> str:
    return f"{root.rstrip('/')}/{spec.name}/{ACCOUNT_FOLDER}={account_key}/date={day.isoformat()}"


def partition_path(root: str, spec: TableSpec, account_key: str, day: date) -> str:
    """Where the partition's file lives (a path or URL, in the form ``root`` was given)."""
    return f"{partition_dir(root, spec, account_key, day)}/{FILE_NAME}"


def _filesystem(root: str) -> tuple[pafs.FileSystem, str, bool]:
    """The filesystem, the root's path on it, and whether it is local."""
    store = open_store(root)
    return store.filesystem, store.base, store.kind is StoreKind.LOCAL


def write_parquet_partition(
    root: str,
    spec: TableSpec,
    account_key: str,
    day: date,
    rows: Sequence[Mapping[str, Any]],
    *,
    write_id: str | None = None,
) -> str:
    """Replace the partition's file with ``rows``; returns the file's path or URL."""
    prepared = prepare_rows(spec, account_key, day, rows)
    return write_parquet_batches(
        root, spec, account_key, day, [_table(spec, prepared)], write_id=write_id
    )


def write_parquet_batches(
    root: str,
    spec: TableSpec,
    account_key: str,
    day: date,
    batches: Iterable[pa.Table],
    *,
    write_id: str | None = None,
) -> str:
    """Replace the partition's file with ``batches`` (tables with the spec's columns, the
    partition columns optional), streamed one row group per batch so a large partition
    never sits in memory whole. The file appears whole or not at all (see the module);
    ``write_id`` goes into its key-value metadata."""
    schema = file_schema(spec)
    store = open_store(root)
    final = f"{partition_dir(store.base, spec, account_key, day)}/{FILE_NAME}"
    stamped = schema if write_id is None else schema.with_metadata({WRITE_ID_KEY: write_id})
    with writing_whole(store, final) as sink, pq.ParquetWriter(sink, stamped) as writer:
        for batch in batches:
            writer.write_table(batch.select(schema.names).cast(stamped))
    return partition_path(root, spec, account_key, day)


def _read_table(root: str, spec: TableSpec, account_key: str, day: date) -> pa.Table | None:
    filesystem, base, _ = _filesystem(root)
    path = f"{partition_dir(base, spec, account_key, day)}/{FILE_NAME}"
    if filesystem.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    return pq.read_table(path, filesystem=filesystem, schema=file_schema(spec))


def parquet_partition_exists(root: str, spec: TableSpec, account_key: str, day: date) -> bool:
    filesystem, base, _ = _filesystem(root)
    path = f"{partition_dir(base, spec, account_key, day)}/{FILE_NAME}"
    return bool(filesystem.get_file_info(path).type == pafs.FileType.File)


def read_parquet_partition(
    root: str, spec: TableSpec, account_key: str, day: date
) -> list[dict[str, Any]]:
    """The partition's rows in spec column order, partition columns restored from the path
    and ``jsonb`` parsed back to Python objects; ``[]`` if the file does not exist."""
    table = _read_table(root, spec, account_key, day)
    if table is None:
        return []
    json_columns = [c.name for c in spec.columns if c.pg_type == "jsonb"]
    partition_values = {"account_key": account_key, "date": day}
    result = []
    for record in table.to_pylist():
        for name in json_columns:
            if record[name] is not None:
                record[name] = json.loads(record[name])
        full = {name: partition_values.get(name) for name in spec.partition_columns} | record
        result.append({name: full[name] for name in spec.column_names})
    return result


def count_parquet_partition(root: str, spec: TableSpec, account_key: str, day: date) -> int:
    """Rows in the partition's file (from its footer); 0 if the file does not exist."""
    return parquet_partition_footer(root, spec, account_key, day).rows


@dataclass(frozen=True)
class ParquetFooter:
    """What the partition's file says about itself: its rows, and the write that made it
    (None for a file written without an id, or no file)."""

    rows: int
    write_id: str | None


def parquet_partition_footer(
    root: str, spec: TableSpec, account_key: str, day: date
) -> ParquetFooter:
    """The partition file's row count and write id, from its footer alone."""
    filesystem, base, _ = _filesystem(root)
    path = f"{partition_dir(base, spec, account_key, day)}/{FILE_NAME}"
    if filesystem.get_file_info(path).type == pafs.FileType.NotFound:
        return ParquetFooter(rows=0, write_id=None)
    with filesystem.open_input_file(path) as handle:
        metadata = pq.ParquetFile(handle).metadata
    write_id = (metadata.metadata or {}).get(WRITE_ID_KEY)
    return ParquetFooter(
        rows=int(metadata.num_rows),
        write_id=write_id.decode() if write_id is not None else None,
    )
