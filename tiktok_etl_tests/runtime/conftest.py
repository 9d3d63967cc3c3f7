"""A fresh Dagster instance of the project's own configuration, in a fresh database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from tiktok_etl.runtime import open_runtime

TOKEN_KEY = "8mOMrHHSgE0cSO8yGCOEYeOgGJcxAr52i9m6G1sIuwk="


@pytest.fixture
def instance(engine: sa.Engine, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """The packaged dagster.yaml in a new DAGSTER_HOME; no run has created the pool yet."""
    os.environ.update(
        {
            "TIKTOK_ETL_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "TIKTOK_ETL_TOKEN_KEY": TOKEN_KEY,
            "TIKTOK_ETL_HOME": str(tmp_path / "home"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        }
    )
    open_runtime().export_env()
    with dg.DagsterInstance.get() as instance:
        yield instance
