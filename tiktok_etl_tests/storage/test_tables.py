from __future__ import annotations

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tiktok_etl.storage.tables import COMMENTS, RAW_TABLES, USERS, VIDEOS, TableSpec, col


def test_arrow_types_follow_postgres_types() -> None:
    schema = VIDEOS.arrow_schema()
    assert schema.field("account_key").type == pa.string()
    assert schema.field("date").type == pa.date32()
    assert schema.field("create_time").type == pa.timestamp("us", tz="UTC")
    assert schema.field("view_count").type == pa.int64()
    assert schema.field("width").type == pa.int32()
    assert schema.field("duration").type == pa.float64()
    assert schema.field("raw").type == pa.string()
    assert COMMENTS.arrow_schema().field("pinned").type == pa.bool_()
    assert not schema.field("video_id").nullable and schema.field("title").nullable


def test_keys_match_the_design() -> None:
    assert USERS.key == ("account_key", "date")
    assert VIDEOS.key == ("account_key", "date", "video_id")
    assert COMMENTS.key == ("account_key", "date", "comment_id")


@pytest.mark.parametrize("spec", RAW_TABLES, ids=lambda s: s.name)
def test_database_columns_match_the_spec(engine: sa.Engine, spec: TableSpec) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT column_name, format_type(atttypid, atttypmod), NOT attnotnull "
                "FROM information_schema.columns c JOIN pg_attribute a "
                "ON a.attrelid = CAST(c.table_name AS regclass) AND a.attname = c.column_name "
                "WHERE c.table_name = :t ORDER BY ordinal_position"
            ),
            {"t": spec.name},
        ).all()
    spelled = {"timestamptz": "timestamp with time zone"}
    expected = [(c.name, spelled.get(c.pg_type, c.pg_type), c.nullable) for c in spec.columns]
    assert [tuple(r) for r in rows] == expected


def test_specs_refuse_bad_identifiers_and_unknown_key_columns() -> None:
    with pytest.raises(ValueError, match="invalid column name"):
        col('x"; DROP TABLE y; --', "text", "an injection attempt")
    with pytest.raises(ValueError, match="key columns"):
        TableSpec("t", (col("a", "text", "a column"),), key=("b",), partition_columns=())
