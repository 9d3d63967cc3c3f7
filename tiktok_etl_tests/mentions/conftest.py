from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tiktok_etl.storage.mentions_store import apply_mentions_ddl
from tiktok_etl_tests.pg_fixtures import migrated_database, postgres_server


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    # applied directly (and twice: it must be idempotent) until it ships as a migration
    with migrated_database(pg_url) as engine:
        apply_mentions_ddl(engine)
        apply_mentions_ddl(engine)
        yield engine
