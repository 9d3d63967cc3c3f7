"""One definition of sl_mentions serves the DDL, the Arrow schema, Parquet and the README."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tiktok_etl.mentions import MENTION_COLUMNS, arrow_schema, markdown_table
from tiktok_etl.mentions.schema import (
    COLUMN_NAMES,
    CONNECTOR_COLUMNS,
    WORKFLOW_COLUMNS,
    mentions_arrow_table,
)
from tiktok_etl.storage.migrations import MIGRATIONS
from tiktok_etl_tests.mentions.samples import mention

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- sl_mentions columns -->", "<!-- /sl_mentions columns -->"

SEED_COLUMNS = [
    "tenant_id", "source_id", "platform", "external_id", "url", "content", "author_name",
    "author_handle", "author_followers", "author_verified", "likes_count", "comments_count",
    "shares_count", "views_count", "reach", "media_type", "media_urls", "published_at",
    "post_type", "status", "duration", "dimensions", "raw_data",
]  # fmt: skip
WAREHOUSE_COLUMNS = [
    "parent_external_id", "matched_keywords", "engagement_rate", "account_key", "date",
    "ingested_at", "updated_at", "deleted_at", "metrics_as_of", "source_kind", "source_key",
]  # fmt: skip


# columns added after 0005_sl_mentions, and the migration that adds each
def test_columns_are_the_seed_columns_then_the_warehouse_columns() -> None:
    assert list(COLUMN_NAMES) == SEED_COLUMNS + WAREHOUSE_COLUMNS


def test_every_column_is_described() -> None:
    assert all(c.description.strip() for c in MENTION_COLUMNS)


def test_status_is_the_only_workflow_column_and_never_refreshed() -> None:
    assert WORKFLOW_COLUMNS == ("status",)
    assert "status" not in CONNECTOR_COLUMNS
    assert not {"tenant_id", "platform", "external_id", "ingested_at"} & set(CONNECTOR_COLUMNS)


def test_the_migration_declares_every_column_with_its_type_and_nullability() -> None:
    (text,) = (m.sql for m in MIGRATIONS if m.version == "0005_sl_mentions")
    later = "\n".join(m.sql for m in MIGRATIONS if m.version > "0005_sl_mentions")
    for c in MENTION_COLUMNS:
        line = re.search(rf'^\s+"{c.name}" ([^,\n]+)', text, re.MULTILINE)
        if line is None:  # a column added later: ADD COLUMN, then maybe SET NOT NULL
            add_column = rf'ALTER TABLE "?sl_mentions"? ADD COLUMN IF NOT EXISTS "?{c.name}"? '
            added = re.search(add_column + r"([^;\n]+)", later)
            assert added is not None, c.name
            assert added.group(1).startswith(c.pg_type)
            set_later = re.search(rf'ALTER COLUMN "?{c.name}"? SET NOT NULL', later) is not None
            assert ("NOT NULL" in added.group(1) or set_later) is (not c.nullable)
            continue
        assert line.group(1).startswith(c.pg_type)
        assert ("NOT NULL" in line.group(1)) is (not c.nullable)
    assert 'PRIMARY KEY ("tenant_id", "platform", "external_id")' in text
    assert text.count("IF NOT EXISTS") == 6


def test_arrow_schema_follows_the_columns() -> None:
    schema = arrow_schema()
    assert schema.names == list(COLUMN_NAMES)
    assert schema.field("published_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("media_urls").type == pa.list_(pa.string())
    assert schema.field("matched_keywords").type == pa.list_(pa.string())
    assert schema.field("raw_data").type == pa.string()
    assert schema.field("date").type == pa.date32()
    assert [f.nullable for f in schema] == [c.nullable for c in MENTION_COLUMNS]


def test_markdown_table_has_a_row_per_column() -> None:
    lines = markdown_table().splitlines()
    assert len(lines) == 2 + len(MENTION_COLUMNS)
    assert [line.split("|")[1].strip().strip("`") for line in lines[2:]] == list(COLUMN_NAMES)


def check_readme_table(text: str) -> bool:
    """False when ``text`` has no sl_mentions column block; fails when its table is stale."""
    if BEGIN not in text:
        return False
    assert END in text, f"README.md opens {BEGIN} but never closes it with {END}"
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block.strip() == markdown_table().strip(), (
        "README.md's sl_mentions column table is stale; paste "
        "tiktok_etl.mentions.markdown_table() between the markers"
    )
    return True


def test_readme_column_table_is_generated_from_the_schema() -> None:
    text = README.read_text(encoding="utf-8")
    assert check_readme_table(text), f"README.md lost its {BEGIN} block"


def test_the_readme_check_accepts_the_generated_table() -> None:
    assert check_readme_table(f"# x\n{BEGIN}\n{markdown_table()}{END}\nmore")


@pytest.mark.parametrize(
    "block",
    [
        markdown_table().replace("`tenant_id`", "`tenant`"),
        markdown_table().rsplit("\n", 2)[0],
        "",
    ],
)
def test_the_readme_check_fails_on_a_stale_table(block: str) -> None:
    with pytest.raises(AssertionError, match="stale"):
        check_readme_table(f"{BEGIN}\n{block}\n{END}")


def test_the_readme_check_fails_on_an_unclosed_block() -> None:
    with pytest.raises(AssertionError, match="never closes"):
        check_readme_table(f"{BEGIN}\n{markdown_table()}")


def test_arrow_table_has_the_schema_and_round_trips_through_parquet(tmp_path: Path) -> None:
    rows = [
        mention("v1", content="acme 🚀 عربي 日本語"),
        mention("v2", views=0, dimensions=None, media_urls=[], matched_keywords=[]),
    ]
    table = mentions_arrow_table(rows)
    assert table.schema == arrow_schema()

    pq.write_table(table, tmp_path / "part-0.parquet")
    back = pq.read_table(tmp_path / "part-0.parquet")
    assert back.schema == arrow_schema()
    assert back.equals(table)
    first = back.to_pylist()[0]
    assert first["content"] == "acme 🚀 عربي 日本語"
    assert first["dimensions"] == '{"width":1080,"height":1920}'
    assert first["raw_data"] == '{"id":"v1","like_count":10}'
    assert first["matched_keywords"] == ["acme"]
    assert first["published_at"] == rows[0]["published_at"]
    assert back.to_pylist()[1]["engagement_rate"] is None


def test_arrow_table_converts_timestamps_to_utc() -> None:
    local = datetime(2026, 11, 5, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    table = mentions_arrow_table([mention("v1", published_at=local)])
    assert table.column("published_at")[0].as_py() == datetime(2026, 11, 5, 12, 0, tzinfo=UTC)


def test_arrow_table_refuses_a_missing_required_column() -> None:
    row = mention("v1")
    del row["raw_data"]
    with pytest.raises(ValueError, match="raw_data"):
        mentions_arrow_table([row])


def test_empty_arrow_table_has_the_schema() -> None:
    assert mentions_arrow_table([]).schema == arrow_schema()
