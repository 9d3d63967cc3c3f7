"""Fixtures for the token lifecycle tests: a runtime on the test database, served sandboxes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tiktok_etl.runtime import Runtime
from tiktok_etl.sandbox import SandboxApp, SandboxServer, build_sandbox
from tiktok_etl.settings import DAGSTER_URL_VAR

from .helpers import CLIENT_KEY, CLIENT_SECRET, Env, make_runtime


@pytest.fixture
def db_url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def token_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def serve() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes on real localhost sockets (strict rotation); stopped after the test."""
    servers: list[SandboxServer] = []

    def start(app: SandboxApp | None = None, **options: Any) -> SandboxServer:
        options.setdefault("history_days", 30)
        options.setdefault("heavy_video_ratio", 0.0)
        server = SandboxServer(app or build_sandbox(seed=7, **options)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def env(db_url: str, token_key: str, tmp_path: Path) -> Env:
    """Configuration for the test database; ``env.point_at(server)`` adds a served sandbox."""
    return Env(db_url=db_url, token_key=token_key, home=tmp_path / "home")


@pytest.fixture
def runtime(env: Env) -> Runtime:
    return make_runtime(env.variables())


@pytest.fixture
def cli_env(env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Env:
    """Process environment for CLI commands. The Dagster variables that ``register_account``
    exports are set here first, so monkeypatch restores them after the test."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv(DAGSTER_URL_VAR, env.db_url)
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", CLIENT_KEY)
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("TIKTOK_BUSINESS_APP_ID", CLIENT_KEY)
    monkeypatch.setenv("TIKTOK_BUSINESS_APP_SECRET", CLIENT_SECRET)
    monkeypatch.delenv("TIKTOK_ETL_SANDBOX", raising=False)
    env.monkeypatch = monkeypatch
    env.apply()
    return env
