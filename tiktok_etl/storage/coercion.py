"""Check and convert a partition's rows into column-ordered tuples both writers accept.

PostgreSQL and Parquet must end up with the same values, so both writers go through
:func:`prepare_rows`, and every other writer (the comment cache, rejects, ``sl_mentions``)
uses the same cleaning functions below: one function per concern. Whatever JSON TikTok
sends, what is written is cleaned the same documented way everywhere:

- text (:func:`clean_text`): NUL characters are removed and lone UTF-16 surrogates become
  U+FFFD; PostgreSQL stores neither. Other control characters are kept: ``text``,
  ``jsonb`` (escaped) and Parquet store them as sent.
- ``jsonb`` (:func:`to_json_text`): any JSON-able Python value becomes compact JSON text,
  keys and string values cleaned as text; ``NaN``, ``Infinity`` and ``-Infinity``, which
  PostgreSQL's JSON parser refuses, become the *strings* ``"NaN"``, ``"Infinity"`` and
  ``"-Infinity"``, so the raw payload still says what TikTok sent. Integers of any size
  are kept (``jsonb`` numbers are arbitrary precision).
- integers (:func:`clean_bigint`): a value outside the signed 64-bit range becomes NULL in
  its typed column; the original stays in the record's raw payload.
- floats (:func:`clean_double`): ``NaN`` and infinities become NULL in typed columns.

Nothing here talks to a database or a filesystem.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from tiktok_etl.storage.tables import Column, TableSpec

_SURROGATE = re.compile("[\ud800-\udfff]")
BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def clean_text(value: str) -> str:
    """Drop NUL characters and replace lone surrogates: neither can be stored as UTF-8 text."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = _SURROGATE.sub("\ufffd", value)
    return value


def clean_bigint(value: int) -> int | None:
    """``value``, or None when it does not fit PostgreSQL's ``bigint``."""
    return value if BIGINT_MIN <= value <= BIGINT_MAX else None


def clean_double(value: float) -> float | None:
    """``value``, or None for ``NaN`` and infinities."""
    return value if math.isfinite(value) else None


def _clean_json_value(value: Any, lenient: bool) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else _NON_FINITE[value]
    if isinstance(value, Mapping):
        return {clean_text(str(k)): _clean_json_value(v, lenient) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json_value(v, lenient) for v in value]
    if lenient and not (value is None or isinstance(value, bool | int | float)):
        return clean_text(str(value))
    return value


def _storable(text: str) -> bool:
    if "\\u0000" in text:
        return False  # PostgreSQL's jsonb refuses NUL
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_json_text(value: Any, *, lenient: bool = False) -> str:
    """Compact JSON text storable as ``jsonb`` (cleaned as the module says); ``lenient``
    stringifies non-JSON values instead of raising TypeError."""
    default = str if lenient else None
    try:
        # the fast path: most payloads need no cleaning at all
        text = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=default
        )
    except ValueError:
        pass  # NaN or an infinity somewhere: cleaned below
    else:
        if _storable(text):
            return text
    return json.dumps(
        _clean_json_value(value, lenient),
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
        default=default,
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
    if pg_type == "bigint":
        if isinstance(value, int) and not isinstance(value, bool):
            return clean_bigint(value)
        raise _type_error(spec, column, "int", value)
    if pg_type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value if -(2**31) <= value < 2**31 else None
        raise _type_error(spec, column, "int", value)
    if pg_type == "double precision":
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return clean_double(float(value))
            except OverflowError:  # an int beyond any float
                return None
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
