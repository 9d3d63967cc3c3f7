"""A served sandbox, a database and the environment that points the project at both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tiktok_etl.cli import main
from tiktok_etl.defs.resources import FIELD_VARIABLES, TikTokConnectorResource
from tiktok_etl.sandbox import SandboxApp, SandboxClock, SandboxServer, build_sandbox

# a fixed "now" for the simulated TikTok: its data and metrics depend on the clock
NOW = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)
TOKEN_KEY = "8mOMrHHSgE0cSO8yGCOEYeOgGJcxAr52i9m6G1sIuwk="
# small enough to keep tests quick, big enough for heavy videos, replies and old videos
WORLD = {"history_days": 20, "short_page_ratio": 0.2, "heavy_comments": (300, 330)}


@pytest.fixture
def sandbox_clock() -> SandboxClock:
    return SandboxClock(NOW)


@pytest.fixture
def sandbox_app(sandbox_clock: SandboxClock) -> SandboxApp:
    return build_sandbox(seed=11, clock=sandbox_clock, **WORLD)


@pytest.fixture
def served(sandbox_app: SandboxApp) -> Iterator[SandboxServer]:
    with SandboxServer(sandbox_app) as server:
        yield server


@pytest.fixture
def project_env(engine: sa.Engine, served: SandboxServer, tmp_path: Path) -> dict[str, str]:
    """What a user would export to run the project against an API double."""
    return {
        "TIKTOK_ETL_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "TIKTOK_ETL_TOKEN_KEY": TOKEN_KEY,
        "TIKTOK_ETL_HOME": str(tmp_path / "home"),
        "TIKTOK_ETL_PARQUET_ROOT": str(tmp_path / "parquet"),
        "TIKTOK_API_BASE_URL": served.base_url,
        "TIKTOK_BUSINESS_API_BASE_URL": served.business_base_url,
        "TIKTOK_CLIENT_KEY": "test-client-key",
        "TIKTOK_CLIENT_SECRET": "test-client-secret",
        "TIKTOK_BUSINESS_APP_ID": "test-app-id",
        "TIKTOK_BUSINESS_APP_SECRET": "test-app-secret",
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }


@pytest.fixture
def resource(project_env: dict[str, str]) -> TikTokConnectorResource:
    values = {
        field: project_env[var] for field, var in FIELD_VARIABLES.items() if var in project_env
    }
    return TikTokConnectorResource(**values)


@pytest.fixture
def cli(project_env: dict[str, str]) -> Callable[..., Any]:
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        result = runner.invoke(main, list(args), env=project_env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return invoke


@pytest.fixture
def add_account(
    cli: Callable[..., Any], sandbox_app: SandboxApp
) -> Callable[[str, str, str], None]:
    """Register an account exactly as a user would: tokens from the double, then the CLI."""

    def add(key: str, api: str, open_id: str, *extra: str) -> None:
        body = sandbox_app.issue_tokens(open_id, api)
        cli(
            "accounts", "add", "--key", key, "--api", api, "--open-id", open_id,
            "--access-token", body["access_token"], "--refresh-token", body["refresh_token"],
            "--expires-in", str(body["expires_in"]), "--scopes", body.get("scope", ""),
            *extra,
        )  # fmt: skip

    return add


@pytest.fixture
def instance(project_env: dict[str, str]) -> Iterator[dg.DagsterInstance]:
    """The project's own Dagster instance: dagster.yaml in DAGSTER_HOME, storage in Postgres."""
    import os

    from tiktok_etl.runtime import open_runtime

    os.environ.update(project_env)
    open_runtime().export_env()
    with dg.DagsterInstance.get() as instance:
        yield instance


def materialize(
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    account_key: str,
    day: str,
    assets: list[Any] | None = None,
) -> dg.ExecuteInProcessResult:
    from tiktok_etl.defs.assets import RAW_ASSETS

    return dg.materialize(
        assets or RAW_ASSETS,
        partition_key=dg.MultiPartitionKey({"account": account_key, "date": day}),
        instance=instance,
        resources={"tiktok": resource},
        raise_on_error=False,
    )
