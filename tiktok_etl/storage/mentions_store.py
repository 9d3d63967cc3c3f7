"""``sl_mentions`` in PostgreSQL: per-partition upserts and reads.

A partition ``(account_key, date)`` of mentions is written in one transaction under an
advisory lock: every batch is COPied into a temp table with the schema's columns, then one
``INSERT ... ON CONFLICT (tenant_id, platform, external_id) DO UPDATE`` refreshes the
connector's columns only, so ``status`` (and any column a triage workflow adds to the
table) survives re-ingestion and ``ingested_at`` stays the first insert time. The
partition's TikTok mentions missing from the new batches are soft-deleted
(``deleted_at``); ones that come back are restored. A crash at any step leaves the
previous state.

The columns are declared in :mod:`tiktok_etl.storage.mentions_table`; the table, its indexes
and the ``sl_mentions_daily`` view are created by migration ``0005_sl_mentions``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from operator import itemgetter
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from tiktok_etl.storage import mentions_table as schema
from tiktok_etl.storage.coercion import (
    clean_bigint,
    clean_double,
    clean_text,
    coerce_value,
    to_json_text,
)
from tiktok_etl.storage.db import driver_connection
from tiktok_etl.storage.errors import PartitionWriteError
from tiktok_etl.storage.partitions import Bind, in_transaction, lock_partition
from tiktok_etl.storage.tables import Column

# the staging shape: columns the store fills in itself may be left out of rows
_STORE_FILLED = {"status", "ingested_at", "updated_at", "source_kind", "source_key"}
MENTIONS_TABLE = replace(
    schema.MENTIONS,
    columns=tuple(
        replace(c, nullable=c.nullable or c.name in _STORE_FILLED) for c in schema.MENTION_COLUMNS
    ),
)

_STAGING = sql.Identifier("_load_sl_mentions")
_TARGET = sql.Identifier(schema.TABLE_NAME)


@dataclass(frozen=True)
class UpsertResult:
    """What one partition write did. A restored mention is counted in ``updated`` too."""

    inserted: int
    updated: int
    soft_deleted: int
    restored: int


def _mentions(rows: Iterable[Any]) -> Iterator[Mapping[str, Any]]:
    """The mappings of ``rows``, which holds mappings, batches of them, or both (what
    :func:`normalize_partition` yields can be passed as is)."""
    for item in rows:
        if isinstance(item, Mapping):
            yield item
        else:
            yield from item


def _array_literal(values: Sequence[str]) -> str:
    """A ``text[]`` literal; cheaper than letting psycopg dump a list value by value."""
    if not values:
        return "{}"
    quoted = (clean_text(v).replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + '","'.join(quoted) + '"}'


class _RowEncoder:
    """Mention mappings -> COPY tuples, checked like :func:`coercion.prepare_rows` checks
    the raw tables (same errors, same text and JSON cleaning) but built for a million
    rows: columns are handled in groups of one type, values of the expected Python type
    take a fast path, and anything else goes through :func:`coercion.coerce_value`. Fast
    or not, values are cleaned by :mod:`coercion`'s functions: integers beyond ``bigint``
    and non-finite floats become NULL, text and ``jsonb`` are cleaned as there."""

    def __init__(self, account_key: str, day: date) -> None:
        self.account_key = account_key
        self.day = day
        columns = MENTIONS_TABLE.columns
        names = MENTIONS_TABLE.column_names
        self.columns = columns
        self.names = names
        self.known = frozenset(names)
        self.get_all = itemgetter(*names)
        self.account_position = names.index("account_key")
        self.date_position = names.index("date")
        required = [i for i, c in enumerate(columns) if not c.nullable]
        self.get_required = itemgetter(*required)
        self.required = required

        def positions(pg_type: str) -> tuple[int, ...]:
            return tuple(i for i, c in enumerate(columns) if c.pg_type == pg_type)

        self.text = positions("text")
        self.lists = positions("text[]")
        self.json = positions("jsonb")
        self.timestamps = positions("timestamptz")
        self.bigints = positions("bigint")
        self.doubles = positions("double precision")
        self.typed = tuple(
            (i, python_type)
            for pg_type, python_type in (("boolean", bool), ("date", date))
            for i in positions(pg_type)
        )
        self.index = 0

    def _fail(self, message: str) -> ValueError:
        return ValueError(f"{schema.TABLE_NAME} row {self.index}: {message}")

    def _coerce(self, position: int, value: Any) -> Any:
        return coerce_value(MENTIONS_TABLE, self.columns[position], value)

    def encode(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        if len(row) != len(self.names) and not self.known.issuperset(row):
            raise self._fail(f"unknown columns {sorted(set(row) - self.known)}")
        try:
            values = list(self.get_all(row))
        except KeyError:
            values = [row.get(name) for name in self.names]
        day = values[self.date_position]
        if (
            values[self.account_position] != self.account_key
            or type(day) is not date
            or day != self.day
        ):
            raise self._fail(
                f"account_key={values[self.account_position]!r}, date={day!r} does not "
                f"belong to partition {self.account_key}|{self.day.isoformat()}"
            )
        if None in self.get_required(values):
            missing = next(i for i in self.required if values[i] is None)
            raise self._fail(f"{self.names[missing]} is required")
        for i in self.text:
            value = values[i]
            if type(value) is str:
                if not value.isascii() or "\x00" in value:
                    values[i] = clean_text(value)
            elif value is not None:
                values[i] = self._coerce(i, value)
        for i in self.bigints:
            value = values[i]
            if value is not None:
                values[i] = clean_bigint(value) if type(value) is int else self._coerce(i, value)
        for i in self.doubles:
            value = values[i]
            if value is not None:
                values[i] = clean_double(value) if type(value) is float else self._coerce(i, value)
        for i, python_type in self.typed:
            value = values[i]
            if value is not None and type(value) is not python_type:
                values[i] = self._coerce(i, value)
        for i in self.timestamps:
            value = values[i]
            if value is not None and (type(value) is not datetime or value.tzinfo is None):
                values[i] = self._coerce(i, value)
        for i in self.lists:
            value = values[i]
            if value is not None:
                if type(value) is not list or not all(type(v) is str for v in value):
                    value = self._coerce(i, value)
                values[i] = _array_literal(value)
        for i in self.json:
            value = values[i]
            if value is not None:
                values[i] = to_json_text(value)
        self.index += 1
        return tuple(values)


def _stage(cursor: psycopg.Cursor[Any], account_key: str, day: date, rows: Iterable[Any]) -> int:
    names = sql.SQL(", ").join(sql.Identifier(n) for n in MENTIONS_TABLE.column_names)
    # a caller's transaction that saw an earlier write fail may still hold the temp table
    cursor.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(_STAGING))
    # the schema's columns without constraints, not LIKE sl_mentions: columns a workflow
    # added (possibly NOT NULL) are no business of the load, and the store fills some
    cursor.execute(
        sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
            _STAGING,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type))
                for c in schema.MENTION_COLUMNS
            ),
        )
    )
    encoder = _RowEncoder(account_key, day)
    with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(_STAGING, names)) as copy:
        write_row = copy.write_row
        for row in _mentions(rows):
            write_row(encoder.encode(row))
    return encoder.index


def _duplicate_error(cursor: psycopg.Cursor[Any], account_key: str, day: date) -> ValueError:
    """The clear error for a key staged twice (PostgreSQL's ``ON CONFLICT DO UPDATE command
    cannot affect row a second time`` names no key): looked up only once the upsert
    failed, so a write without duplicates pays nothing for the check."""
    keys = sql.SQL(", ").join(sql.Identifier(k) for k in schema.KEY_COLUMNS)
    cursor.execute(
        sql.SQL("SELECT {} FROM {} GROUP BY {} HAVING count(*) > 1 LIMIT 1").format(
            keys, _STAGING, keys
        )
    )
    duplicate = cursor.fetchone()
    described = (
        ", ".join(f"{n}={v!r}" for n, v in zip(schema.KEY_COLUMNS, duplicate, strict=True))
        if duplicate is not None
        else "a key"
    )
    return ValueError(
        f"{schema.TABLE_NAME} partition {account_key}|{day.isoformat()}: mention "
        f"({described}) appears twice in one write"
    )


# a listening query never takes a live mention from an owned account or another query: see
# tiktok_etl.mentions.research (an owned account's upsert always takes it over)
_QUERY_MAY_UPDATE = sql.SQL(
    " WHERE t.deleted_at IS NOT NULL OR (t.source_kind = 'query' "
    "AND t.source_key = EXCLUDED.source_key)"
)


def _build_upsert_sql(only_if: sql.Composable | None = None) -> sql.Composed:
    names = schema.COLUMN_NAMES
    selected = {n: sql.SQL("s.{}").format(sql.Identifier(n)) for n in names} | {
        # rows normalized before sources existed are an account's
        "source_kind": sql.SQL("coalesce(s.source_kind, 'account')"),
        "source_key": sql.SQL("coalesce(s.source_key, s.account_key)"),
        "status": sql.SQL("coalesce(s.status, 'new')"),
        "ingested_at": sql.SQL("coalesce(s.ingested_at, now())"),
        "updated_at": sql.SQL("coalesce(s.updated_at, now())"),
        "deleted_at": sql.SQL("NULL"),
    }
    refreshed = [
        sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(n), sql.Identifier(n))
        for n in (*schema.CONNECTOR_COLUMNS, "updated_at")
        if n not in schema.METRIC_COLUMNS
    ]
    # the newest observation of the metrics wins: a re-run from older raw rows must not
    # undo a later tiktok_video_metrics snapshot (see storage/metrics_copies.py)
    refreshed += [
        sql.SQL(
            "{c} = CASE WHEN t.metrics_as_of > EXCLUDED.metrics_as_of "
            "THEN t.{c} ELSE EXCLUDED.{c} END"
        ).format(c=sql.Identifier(n))
        for n in schema.METRIC_COLUMNS
    ]
    refreshed.append(sql.SQL("{} = NULL").format(sql.Identifier("deleted_at")))
    return sql.SQL(
        "WITH upserted AS ("
        "INSERT INTO {target} AS t ({columns}) SELECT {selected} FROM {staging} AS s "
        "ON CONFLICT ({key}) DO UPDATE SET {refreshed}{only_if} "
        "RETURNING (t.xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) "
        "FROM upserted"
    ).format(
        target=_TARGET,
        columns=sql.SQL(", ").join(sql.Identifier(n) for n in names),
        selected=sql.SQL(", ").join(selected[n] for n in names),
        staging=_STAGING,
        key=sql.SQL(", ").join(sql.Identifier(k) for k in schema.KEY_COLUMNS),
        refreshed=sql.SQL(", ").join(refreshed),
        only_if=only_if or sql.SQL(""),
    )


# counts (inserted, updated): xmax is 0 on a row version this statement inserted
_UPSERT_SQL = _build_upsert_sql()
_QUERY_UPSERT_SQL = _build_upsert_sql(_QUERY_MAY_UPDATE)

_RESTORED_SQL = sql.SQL(
    "SELECT count(*) FROM {target} AS t JOIN {staging} AS s "
    "USING (tenant_id, platform, external_id) WHERE t.deleted_at IS NOT NULL"
).format(target=_TARGET, staging=_STAGING)

_ANALYZE_SQL = sql.SQL("ANALYZE {} ({})").format(
    _STAGING, sql.SQL(", ").join(sql.Identifier(k) for k in schema.KEY_COLUMNS)
)

_SOFT_DELETE_SQL = sql.SQL(
    "UPDATE {target} AS t SET deleted_at = now(), updated_at = now() "
    "WHERE t.account_key = %s AND t.date = %s AND t.platform = %s AND t.deleted_at IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM {staging} AS s WHERE s.tenant_id = t.tenant_id "
    "AND s.platform = t.platform AND s.external_id = t.external_id)"
).format(target=_TARGET, staging=_STAGING)


def upsert_mentions(
    bind: Bind,
    account_key: str,
    day: date,
    rows: Iterable[Any],
    *,
    source_kind: str = "account",
) -> UpsertResult:
    """Make ``rows`` the live mentions of partition ``account_key|day``.

    ``rows`` is an iterable of mention mappings or of batches of them (the generator from
    :func:`tiktok_etl.mentions.normalize_partition` fits); it is consumed once, batch by
    batch, so a large partition is never held in memory. Every row must belong to the
    partition (``account_key`` and ``date``). New mentions are inserted with status
    ``new``; existing ones get fresh connector columns and ``updated_at``, keep
    ``status`` and ``ingested_at``, and are restored if soft-deleted. The partition's
    other live TikTok mentions are soft-deleted, so an empty ``rows`` soft-deletes the
    whole partition. Given a Connection, the write joins the caller's transaction.
    ``source_kind="query"`` (a listening query's partition) leaves alone the live mentions
    another source holds.
    """
    upsert = _QUERY_UPSERT_SQL if source_kind == "query" else _UPSERT_SQL
    with in_transaction(bind) as conn:
        lock_partition(conn, schema.TABLE_NAME, account_key, day)
        cursor = driver_connection(conn).cursor()
        try:
            _stage(cursor, account_key, day, rows)
            # the joins below need statistics on the key only, not on every column
            cursor.execute(_ANALYZE_SQL)
            cursor.execute(_RESTORED_SQL)
            restored = _count(cursor)
            # a key staged twice fails the upsert (cardinality violation); the savepoint
            # keeps the transaction usable to find the key and report it
            cursor.execute("SAVEPOINT sl_mentions_upsert")
            try:
                cursor.execute(upsert)
            except psycopg.errors.CardinalityViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT sl_mentions_upsert")
                raise _duplicate_error(cursor, account_key, day) from None
            counts = cursor.fetchone()
            cursor.execute("RELEASE SAVEPOINT sl_mentions_upsert")
            inserted, updated = (int(counts[0]), int(counts[1])) if counts else (0, 0)
            cursor.execute(_SOFT_DELETE_SQL, (account_key, day, schema.PLATFORM))
            soft_deleted = cursor.rowcount
            # dropped now as well as on commit: a caller's transaction may write again
            cursor.execute(sql.SQL("DROP TABLE {}").format(_STAGING))
        except psycopg.Error as exc:
            raise PartitionWriteError(schema.TABLE_NAME, account_key, day.isoformat(), exc) from exc
    return UpsertResult(
        inserted=inserted, updated=updated, soft_deleted=soft_deleted, restored=restored
    )


def _count(cursor: psycopg.Cursor[Any]) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def iter_mentions(
    bind: Bind,
    account_key: str,
    day: date,
    *,
    include_deleted: bool = True,
    batch_size: int = 10_000,
) -> Iterator[list[dict[str, Any]]]:
    """The partition's mentions as stored, in batches from a server-side cursor, ordered by
    ``external_id`` (``jsonb`` as Python objects): what the Parquet copy should hold, fed
    batch by batch to :func:`tiktok_etl.mentions.mentions_arrow_table`."""
    query = sql.SQL(
        "SELECT {} FROM {} WHERE account_key = %s AND date = %s{} ORDER BY external_id"
    ).format(
        sql.SQL(", ").join(sql.Identifier(n) for n in schema.COLUMN_NAMES),
        _TARGET,
        sql.SQL("" if include_deleted else " AND deleted_at IS NULL"),
    )
    with (
        in_transaction(bind) as conn,
        driver_connection(conn).cursor(name="sl_mentions_export") as cursor,
    ):
        cursor.execute(query, (account_key, day))
        while rows := cursor.fetchmany(batch_size):
            yield [dict(zip(schema.COLUMN_NAMES, row, strict=True)) for row in rows]


def read_mentions(
    bind: Bind, account_key: str, day: date, *, include_deleted: bool = True
) -> list[dict[str, Any]]:
    """All of :func:`iter_mentions` in one list (for small partitions and tests)."""
    return [
        row
        for batch in iter_mentions(bind, account_key, day, include_deleted=include_deleted)
        for row in batch
    ]


_EPOCH = date(1970, 1, 1)


def _export_expression(column: Column) -> sql.Composable:
    """How :func:`iter_mentions_arrow` selects a column: in a form Arrow takes without
    per-value Python work (``jsonb`` as its text, timestamps as epoch microseconds)."""
    name = sql.Identifier(column.name)
    if column.pg_type == "jsonb":
        return sql.SQL("{}::text").format(name)
    if column.pg_type == "timestamptz":
        # exact: extract() returns numeric, and timestamptz has microsecond resolution
        return sql.SQL("(extract(epoch FROM {}) * 1000000)::bigint").format(name)
    return name


# the partition columns are the same on every row of a partition: not fetched
_EXPORTED = tuple(c for c in schema.MENTION_COLUMNS if c.name not in ("account_key", "date"))


def _export_sql(include_deleted: bool) -> sql.Composed:
    return sql.SQL(
        "SELECT {} FROM {} WHERE account_key = %s AND date = %s{} ORDER BY external_id"
    ).format(
        sql.SQL(", ").join(_export_expression(c) for c in _EXPORTED),
        _TARGET,
        sql.SQL("" if include_deleted else " AND deleted_at IS NULL"),
    )


def _arrow_column(column: Column, values: Sequence[Any]) -> pa.Array:
    if column.pg_type == "timestamptz":
        return pa.array(values, type=pa.int64()).cast(column.arrow_type)
    return pa.array(values, type=column.arrow_type)


def iter_mentions_arrow(
    bind: Bind,
    account_key: str,
    day: date,
    *,
    include_deleted: bool = True,
    batch_size: int = 10_000,
) -> Iterator[pa.Table]:
    """The partition's mentions as stored, as Arrow tables of at most ``batch_size`` rows
    with ``MENTIONS.arrow_schema()``, ordered by ``external_id``: what
    the Parquet copy holds. Same rows and values as :func:`iter_mentions` +
    ``tiktok_etl.mentions.mentions_arrow_table``, built column by column from the
    fetched tuples: ``jsonb`` arrives as PostgreSQL's JSON text (``jsonb``'s canonical
    spacing, ``{"a": 1}``) and is never parsed in Python."""
    arrow_schema = schema.MENTIONS.arrow_schema()
    exported = {c.name: i for i, c in enumerate(_EXPORTED)}
    with (
        in_transaction(bind) as conn,
        driver_connection(conn).cursor(name="sl_mentions_export") as cursor,
    ):
        cursor.execute(_export_sql(include_deleted), (account_key, day))
        while rows := cursor.fetchmany(batch_size):
            columns = list(zip(*rows, strict=True))
            arrays = []
            for c in schema.MENTION_COLUMNS:
                if c.name == "account_key":
                    arrays.append(pa.repeat(pa.scalar(account_key, c.arrow_type), len(rows)))
                elif c.name == "date":
                    arrays.append(pa.repeat(pa.scalar(day, c.arrow_type), len(rows)))
                else:
                    arrays.append(_arrow_column(c, columns[exported[c.name]]))
            yield pa.Table.from_arrays(arrays, schema=arrow_schema)
