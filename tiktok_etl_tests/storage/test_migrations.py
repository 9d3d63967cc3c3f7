from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from tiktok_etl.storage.db import make_engine
from tiktok_etl.storage.errors import MigrationError
from tiktok_etl.storage.migrations import MIGRATIONS, Migration, applied_versions, migrate
from tiktok_etl_tests.pg_fixtures import fresh_database

ALL_VERSIONS = [m.version for m in MIGRATIONS]


def _tables(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'tiktok'")
            ).scalars()
        )


def test_migrate_applies_every_migration_in_order_then_nothing(pg_url: str) -> None:
    with fresh_database(pg_url) as url:
        engine = make_engine(url)
        try:
            assert migrate(engine) == ALL_VERSIONS
            assert migrate(engine) == []
            assert applied_versions(engine) == set(ALL_VERSIONS)
            assert {
                "tiktok_etl_migrations",
                "tiktok_accounts",
                "tiktok_tokens",
                "tiktok_users",
                "tiktok_videos",
                "tiktok_comments",
                "tiktok_rejects",
                "tiktok_comment_cache",
                "tiktok_comment_video_state",
                "tiktok_video_links",
                "sl_mentions",
            } <= _tables(engine)
        finally:
            engine.dispose()


def test_concurrent_migrations_apply_each_version_once(pg_url: str) -> None:
    with fresh_database(pg_url) as url:
        engine = make_engine(url)
        results: list[list[str]] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(3)

        def run() -> None:
            barrier.wait()
            try:
                results.append(migrate(engine))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(3)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            applied = sorted(v for result in results for v in result)
            assert applied == sorted(ALL_VERSIONS)
            with engine.connect() as conn:
                count = conn.execute(sa.text("SELECT count(*) FROM tiktok_etl_migrations")).scalar()
            assert count == len(ALL_VERSIONS)
        finally:
            engine.dispose()


def test_appending_a_migration_applies_only_the_new_one(engine: sa.Engine) -> None:
    extra = Migration("9999_test_extra", "CREATE TABLE test_extra (id int); SELECT 1;")
    assert migrate(engine, [*MIGRATIONS, extra]) == ["9999_test_extra"]
    assert "test_extra" in _tables(engine)


def test_a_failing_migration_is_not_recorded_and_leaves_no_trace(engine: sa.Engine) -> None:
    broken = Migration("9998_broken", "CREATE TABLE half_done (id int); SELECT no_such_fn();")
    with pytest.raises(MigrationError, match="9998_broken"):
        migrate(engine, [*MIGRATIONS, broken])
    assert "9998_broken" not in applied_versions(engine)
    assert "half_done" not in _tables(engine)
