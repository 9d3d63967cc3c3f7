"""The metric-history specs: documented in the README, keyed as the migration keys them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tiktok_etl.storage.metrics_tables import METRICS_TABLES, markdown_tables
from tiktok_etl.storage.migrations import MIGRATIONS
from tiktok_etl.storage.tables import TableSpec

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- metrics columns -->\n", "<!-- /metrics columns -->"


def test_readme_column_tables_are_generated_from_the_specs() -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert block == markdown_tables(), (
        "paste tiktok_etl.storage.metrics_tables.markdown_tables() into README.md"
    )


@pytest.mark.parametrize("spec", METRICS_TABLES, ids=lambda s: s.name)
def test_the_migration_keys_each_table_as_its_spec(spec: TableSpec) -> None:
    (text,) = (m.sql for m in MIGRATIONS if m.version == "0010_metrics_history")
    table = re.search(rf"CREATE TABLE IF NOT EXISTS {spec.name} \((.*?)\n\);", text, re.S)
    assert table is not None
    assert f"PRIMARY KEY ({', '.join(spec.key)})" in table.group(1)
    assert "public." not in text  # unqualified: the schema comes from search_path
