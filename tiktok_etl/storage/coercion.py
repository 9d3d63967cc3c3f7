"""Check and convert a partition's rows into column-ordered tuples both writers accept.

PostgreSQL and Parquet must end up with the same values, so both writers go through
:func:`prepare_rows`. Text that PostgreSQL cannot store is repaired the same way for both:
NUL characters are removed and lone UTF-16 surrogates become U+FFFD. ``jsonb`` values are
any JSON-serializable Python object (dicts, lists, scalars) and become compact JSON text.
Nothing here talks to a database or a filesystem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from tiktok_etl.storage.tables import Column, TableSpec

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Drop NUL characters and replace lone surrogates: neither can be stored as UTF-8 text."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = _SURROGATE.sub("\ufffd", value)
    return value


def _clean_json_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(str(k)): _clean_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json_value(v) for v in value]
    return value


def to_json_text(value: Any, *, lenient: bool = False) -> str:
    """Compact JSON text storable as ``jsonb``; ``lenient`` stringifies non-JSON values."""
    return json.dumps(
        _clean_json_value(value),
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
        default=str if lenient else None,
    )


def _type_error(spec: TableSpec, column: Column, expected: str, value: Any) -> TypeError:
    return TypeError(
        f"{spec.name}.{column.name} ({column.pg_type}) expects {expected}, "
        f"got {type(value).__name__}"
    )


def coerce_value(spec: TableSpec, column: Column, value: Any) -> Any:
    """The value as the writers expect it for ``column``; None stays None."""
    if value is None:
        return None
    pg_type = column.pg_type
    if pg_type == "text":
        if isinstance(value, str):
            return clean_text(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # numeric identifiers
        raise _type_error(spec, column, "str", value)
    if pg_type == "jsonb":
        return to_json_text(value)
    if pg_type in ("bigint", "integer"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _type_error(spec, column, "int", value)
    if pg_type == "double precision":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _type_error(spec, column, "float", value)
    if pg_type == "boolean":
        if isinstance(value, bool):
            return value
        raise _type_error(spec, column, "bool", value)
    if pg_type == "timestamptz":
        if isinstance(value, datetime) and value.utcoffset() is not None:
            return value
        raise _type_error(spec, column, "a timezone-aware datetime", value)
    if pg_type == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        raise _type_error(spec, column, "date", value)
    if pg_type == "text[]":
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return [clean_text(v) for v in value]
        raise _type_error(spec, column, "a list of str", value)
    raise TypeError(f"{spec.name}.{column.name}: unsupported type {pg_type}")


def prepare_rows(
    spec: TableSpec, account_key: str, day: date, rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """Validate rows for one ``(account_key, day)`` partition and convert them to tuples.

    Raises ValueError for a row of another partition, an unknown or missing required column,
    or a key that appears twice; TypeError for a value of the wrong type.
    """
    known = set(spec.column_names)
    expected_partition = {"account_key": account_key, "date": day}
    key_positions = [spec.column_names.index(name) for name in spec.key]
    seen: dict[tuple[Any, ...], int] = {}
    prepared: list[tuple[Any, ...]] = []
    for index, row in enumerate(rows):
        unknown = set(row) - known
        if unknown:
            raise ValueError(f"{spec.name} row {index}: unknown columns {sorted(unknown)}")
        for name in spec.partition_columns:
            value = row.get(name)
            expected = expected_partition.get(name)
            if value != expected or type(value) is not type(expected):
                raise ValueError(
                    f"{spec.name} row {index}: {name}={value!r} does not belong to partition "
                    f"{account_key}|{day.isoformat()}"
                )
        values = []
        for column in spec.columns:
            value = coerce_value(spec, column, row.get(column.name))
            if value is None and not column.nullable:
                raise ValueError(f"{spec.name} row {index}: {column.name} is required")
            values.append(value)
        key = tuple(values[position] for position in key_positions)
        if key in seen:
            described = ", ".join(f"{n}={v!r}" for n, v in zip(spec.key, key, strict=True))
            raise ValueError(
                f"{spec.name}: duplicate key ({described}) in rows {seen[key]} and {index}"
            )
        seen[key] = index
        prepared.append(tuple(values))
    return prepared
