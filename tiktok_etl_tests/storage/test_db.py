from __future__ import annotations

import pytest
import sqlalchemy as sa

from tiktok_etl.storage.db import (
    make_engine,
    normalize_url,
    redact_url,
    to_libpq_url,
    to_psycopg2_url,
)


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:pw@db:5432/x",
        "postgresql://u:pw@db:5432/x",
        "postgresql+psycopg://u:pw@db:5432/x",
        "postgresql+psycopg2://u:pw@db:5432/x",
    ],
)
def test_urls_normalize_to_psycopg3_and_psycopg2(url: str) -> None:
    assert normalize_url(url) == "postgresql+psycopg://u:pw@db:5432/x"
    assert to_psycopg2_url(url) == "postgresql+psycopg2://u:pw@db:5432/x"
    assert to_libpq_url(url) == "postgresql://u:pw@db:5432/x"


def test_socket_host_in_the_query_survives_conversion() -> None:
    url = "postgresql+psycopg://postgres@/tiktok_etl?host=/tmp/x/pgdata"
    assert to_psycopg2_url(url) == "postgresql+psycopg2://postgres@/tiktok_etl?host=/tmp/x/pgdata"
    assert sa.make_url(to_libpq_url(url)).query["host"] == "/tmp/x/pgdata"


def test_non_postgres_urls_are_refused_without_echoing_the_password() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL") as caught:
        normalize_url("mysql://u:hunter2@db/x")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:hunter2@db:5432/x",
        "postgres://user:hunter2@db/x?sslmode=require",
        "postgresql+psycopg://user:hunter2@db/x",
        "weird://user:hunter2@[not-a-url",
    ],
)
def test_redact_url_masks_the_password(url: str) -> None:
    redacted = redact_url(url)
    assert "hunter2" not in redacted
    assert "user" in redacted and "***" in redacted


def test_make_engine_accepts_a_plain_postgresql_url(pg_url: str) -> None:
    engine = make_engine(to_libpq_url(pg_url))
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
