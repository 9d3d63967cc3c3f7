"""Shared fixtures: a real PostgreSQL for the whole session, a fresh migrated database per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tiktok_etl_tests.pg_fixtures import migrated_database, postgres_server


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    with migrated_database(pg_url) as engine:
        yield engine


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    """Commands under test export DAGSTER_HOME and database URLs; no test leaks them."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
