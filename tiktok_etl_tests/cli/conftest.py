"""Run ``tiktok-etl`` as a user would: a home in tmp_path, the test database, nothing inherited."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from tiktok_etl.cli import main

CliInvoke = Callable[..., Result]


@pytest.fixture
def user_env(engine: sa.Engine, tmp_path: Path) -> dict[str, str | None]:
    """A configured database and token key; the caller's own TIKTOK_* variables are unset."""
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("TIKTOK")}
    env.update(
        {
            "TIKTOK_ETL_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "TIKTOK_ETL_TOKEN_KEY": Fernet.generate_key().decode(),
            "TIKTOK_ETL_HOME": str(tmp_path / "home"),
            "TIKTOK_ETL_SANDBOX": "1",
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        }
    )
    return env


@pytest.fixture
def tiktok_etl(user_env: dict[str, str | None]) -> CliInvoke:
    """``tiktok_etl("accounts", "list", TIKTOK_ETL_TOKEN_KEY="...")``: the result, never raising."""

    def invoke(*args: str, command: click.Command = main, **env: str | None) -> Result:
        return CliRunner().invoke(command, list(args), env={**user_env, **env})

    return invoke
