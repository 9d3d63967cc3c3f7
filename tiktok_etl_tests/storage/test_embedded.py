from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import sqlalchemy as sa

from tiktok_etl.storage.db import make_engine, to_libpq_url
from tiktok_etl.storage.embedded import EmbeddedPostgres
from tiktok_etl_tests.pg_fixtures import scratch_dir

START_IN_CHILD = """
import sys
from pathlib import Path
from tiktok_etl.storage.embedded import EmbeddedPostgres
from tiktok_etl_tests.pg_fixtures import scratch_dir
print(EmbeddedPostgres(Path(sys.argv[1])).start())
"""


@pytest.fixture
def home() -> Iterator[Path]:
    # outside pytest's basetemp: as root the server runs as another user that must reach it
    path = Path(tempfile.mkdtemp(prefix="tiktok_etl_embedded_", dir=scratch_dir()))
    try:
        yield path
    finally:
        EmbeddedPostgres(path).stop()
        shutil.rmtree(path, ignore_errors=True)


def _server_pid(home: Path) -> int:
    return int((home / "pgdata" / "postmaster.pid").read_text().splitlines()[0])


def _start_in_child(home: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", START_IN_CHILD, str(home)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _select_one(url: str) -> int:
    with psycopg.connect(to_libpq_url(url)) as conn:
        row = conn.execute("SELECT 1").fetchone()
    assert row is not None
    return int(row[0])


def test_start_is_idempotent_and_creates_the_database(home: Path) -> None:
    server = EmbeddedPostgres(home)
    url = server.start()
    assert url.startswith("postgresql+psycopg://postgres@/tiktok_etl?host=")
    pid = _server_pid(home)
    assert server.start() == url
    assert _server_pid(home) == pid
    assert server.is_running()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "tiktok_etl"
    finally:
        engine.dispose()


def test_server_started_by_an_exited_process_is_reused(home: Path) -> None:
    url = _start_in_child(home)  # that process has exited now
    pid = _server_pid(home)
    assert _select_one(url) == 1
    assert _start_in_child(home) == url
    assert EmbeddedPostgres(home).start() == url
    assert _server_pid(home) == pid


def test_concurrent_first_starts_share_one_server(home: Path) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        urls = set(pool.map(lambda _: _start_in_child(home), range(3)))
    assert len(urls) == 1
    assert _select_one(urls.pop()) == 1


def test_stop_then_start_restarts_with_the_data_kept(home: Path) -> None:
    server = EmbeddedPostgres(home)
    url = server.start()
    with psycopg.connect(to_libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int)")
    server.stop()
    assert not server.is_running()
    server.stop()  # stopping a stopped server is fine
    assert server.start() == url
    with psycopg.connect(to_libpq_url(url)) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)


def test_dagster_url_uses_psycopg2_on_the_same_database(home: Path) -> None:
    server = EmbeddedPostgres(home)
    url = server.dagster_url()
    assert url.startswith("postgresql+psycopg2://postgres@/tiktok_etl?host=")
    assert url.split("://", 1)[1] == server.start().split("://", 1)[1]
    engine = sa.create_engine(url)  # dagster-postgres' driver
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "tiktok_etl"
    finally:
        engine.dispose()


def test_too_long_data_dir_gets_a_short_socket_dir(home: Path) -> None:
    deep = home / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    assert len(str(deep / "pgdata" / ".s.PGSQL.5432")) > 108
    server = EmbeddedPostgres(deep)
    try:
        url = server.start()
        socket_dir = parse_qs(urlsplit(url).query)["host"][0]
        assert not socket_dir.startswith(str(deep))
        assert len(socket_dir + "/.s.PGSQL.5432") <= 107
        assert _select_one(url) == 1
        assert EmbeddedPostgres(deep).start() == url
    finally:
        server.stop()
