"""The declared schema and the frozen migrations agree, and shipped migrations never change."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
import sqlalchemy as sa

from tiktok_etl.mentions.schema import MENTIONS
from tiktok_etl.storage.db import make_engine
from tiktok_etl.storage.mention_actions import MENTION_ACTIONS
from tiktok_etl.storage.metrics_tables import METRICS_TABLES
from tiktok_etl.storage.migrations import MIGRATIONS, migrate
from tiktok_etl.storage.posts import POSTS
from tiktok_etl.storage.research import RESEARCH_STATE_TABLES, RESEARCH_TABLES
from tiktok_etl.storage.tables import PARTITION_WRITES, RAW_TABLES, VIDEOS, TableSpec, col
from tiktok_etl_tests.pg_fixtures import fresh_database

SPECS: tuple[TableSpec, ...] = (
    *RAW_TABLES,
    MENTIONS,
    PARTITION_WRITES,
    *METRICS_TABLES,
    *RESEARCH_TABLES,
    MENTION_ACTIONS,
    POSTS,
)

# tables the migrations create that no spec declares: connector state, not data
STATE_TABLES = {
    "tiktok_etl_migrations",
    "tiktok_accounts",
    "tiktok_tokens",
    "tiktok_rejects",
    "tiktok_comment_cache",
    "tiktok_comment_video_state",
    "tiktok_video_links",
    "tiktok_rate_slots",
    "tiktok_rate_waiters",
    "tiktok_rate_pauses",
    "tiktok_etl_meta",
    *RESEARCH_STATE_TABLES,
    "tiktok_post_inits",
}

# sha256 of every migration that has shipped: databases remember versions, not contents
SHIPPED = {
    "0001_accounts_tokens": "5746e453830d20625d52a396cc44de169e3bb0f573676ee9da886caaa0485470",
    "0002_raw_tables": "d8c786662c2cd8e3e5cecd5900c1cb5a6d558749aa11ade9b2d17fa49e5b7867",
    "0003_rejects": "0d6a9f8659e72d8aa0d23b52631ba83e589c61effacf94a689bacf2a7164a5b2",
    "0004_comment_cache": "1198fd39b662bd455580d501a918ef975170019f6806e231515d6925f8af09b9",
    "0005_sl_mentions": "0c31cbc073af1f77e320861463de86cdb879c0dca6c22538f697fe47573180f6",
    "0006_rate_budget": "baaa8400e8977f3f361980079029f7bbf625be0eb868d182449f9829f82ef478",
    "0007_partition_writes": "eaa4515d26ad05e411f359abd5f03fde283ee43eaaf20b030005ba719f9a973a",
    "0008_token_key_check": "656fe1849637da4547153b313c5d52353cd492774ccbf67ddcd95d692b87e779",
    "0010_metrics_history": "12a8006c8dc9d935c13acacf57c5080a7e3193b9ad215d0d41aaa490808b3a99",
    "0011_research": "a1d250d4d40eeef25e630eddecd792af853ccd66b4fc15eeae7ec8bddd2e13c7",
    "0012_mention_actions": "159070bfe108379c3a657c65924bdfbb06c91ade24281bd17a973daed8af2144",
    "0013_posts": "f6eb09c06a02207d98b4fae801367ed4894e7bff873eecc65e29b72d9e3fd724",
}

# information_schema's spelling of the spec types that PostgreSQL spells differently
_SPELLED = {"timestamptz": "timestamp with time zone", "text[]": "_text"}

Columns = dict[str, tuple[str, bool]]


@pytest.fixture(scope="module")
def migrated_columns(pg_url: str) -> dict[str, Columns]:
    """``table -> column -> (type, nullable)`` of an empty database after every migration."""
    with fresh_database(pg_url) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT c.table_name, c.column_name, c.data_type, c.udt_name, "
                        "c.is_nullable = 'YES' FROM information_schema.columns c "
                        "JOIN information_schema.tables t USING (table_schema, table_name) "
                        "WHERE c.table_schema = 'tiktok' AND t.table_type = 'BASE TABLE'"
                    )
                ).all()
        finally:
            engine.dispose()
    tables: dict[str, Columns] = {}
    for table, column, data_type, udt_name, nullable in rows:
        spelled = udt_name if data_type == "ARRAY" else data_type
        tables.setdefault(table, {})[column] = (spelled, nullable)
    return tables


def _declared(spec: TableSpec) -> Columns:
    return {c.name: (_SPELLED.get(c.pg_type, c.pg_type), c.nullable) for c in spec.columns}


def drift(spec: TableSpec, database: dict[str, Columns]) -> list[str]:
    """How the migrated database differs from ``spec``; empty when they agree."""
    if spec.name not in database:
        return [f"no migration creates {spec.name}"]
    migrated, declared = database[spec.name], _declared(spec)
    problems = [
        f"{spec.name}.{name} is in the spec but not in the database; add a migration"
        for name in declared.keys() - migrated.keys()
    ]
    problems += [
        f"{spec.name}.{name} is in the database but not in the spec; declare it"
        for name in migrated.keys() - declared.keys()
    ]
    problems += [
        f"{spec.name}.{name}: spec {declared[name]} != database {migrated[name]} (type, nullable)"
        for name in declared.keys() & migrated.keys()
        if declared[name] != migrated[name]
    ]
    return sorted(problems)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_migrated_database_has_exactly_the_spec_columns(
    migrated_columns: dict[str, Columns], spec: TableSpec
) -> None:
    assert drift(spec, migrated_columns) == []


def test_every_migrated_table_is_declared_or_known_state(
    migrated_columns: dict[str, Columns],
) -> None:
    assert set(migrated_columns) == {s.name for s in SPECS} | STATE_TABLES


def test_a_spec_column_missing_from_the_database_is_drift(
    migrated_columns: dict[str, Columns],
) -> None:
    extra = col("never_migrated", "text", "a column no migration creates")
    spec = replace(VIDEOS, columns=(*VIDEOS.columns, extra))
    assert drift(spec, migrated_columns) == [
        "tiktok_videos.never_migrated is in the spec but not in the database; add a migration"
    ]


def test_a_database_column_missing_from_the_spec_is_drift(
    migrated_columns: dict[str, Columns],
) -> None:
    spec = replace(VIDEOS, columns=tuple(c for c in VIDEOS.columns if c.name != "reach"))
    assert drift(spec, migrated_columns) == [
        "tiktok_videos.reach is in the database but not in the spec; declare it"
    ]


def test_a_type_or_nullability_change_is_drift(migrated_columns: dict[str, Columns]) -> None:
    columns = tuple(
        replace(c, pg_type="integer") if c.name == "view_count" else c for c in VIDEOS.columns
    )
    columns = tuple(replace(c, nullable=True) if c.name == "api" else c for c in columns)
    assert drift(replace(VIDEOS, columns=columns), migrated_columns) == [
        "tiktok_videos.api: spec ('text', True) != database ('text', False) (type, nullable)",
        "tiktok_videos.view_count: spec ('integer', True) != database ('bigint', True) "
        "(type, nullable)",
    ]


def test_shipped_migrations_are_unchanged() -> None:
    found = {m.version: hashlib.sha256(m.sql.encode()).hexdigest() for m in MIGRATIONS}
    for version, checksum in SHIPPED.items():
        assert version in found, f"shipped migration {version} is gone; never delete one"
        assert found[version] == checksum, (
            f"migration {version} changed: never edit a shipped migration; add a new one"
        )


def test_new_migrations_come_after_the_shipped_ones() -> None:
    versions = [m.version for m in MIGRATIONS]
    shipped = sorted(SHIPPED)
    assert versions[: len(shipped)] == shipped, (
        "a new migration sorts before a shipped one; give it the next number"
    )
