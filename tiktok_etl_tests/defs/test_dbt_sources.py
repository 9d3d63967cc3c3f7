"""The dbt example's generated sources, its connection environment, and loading without it."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tiktok_etl.defs.dbt import PROJECT_DIR
from tiktok_etl.defs.dbt_sources import SOURCES_PATH, sources_yaml
from tiktok_etl.runtime import Runtime
from tiktok_etl.runtime.dbt_env import PASSWORD_VAR, dbt_environment
from tiktok_etl.settings import ConfigError, Settings
from tiktok_etl.storage.mentions_table import MENTION_STATUSES, MENTIONS
from tiktok_etl.storage.tables import RAW_TABLES

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-pw-Zq9"


def _tables() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((PROJECT_DIR / SOURCES_PATH).read_text(encoding="utf-8"))
    (source,) = document["sources"]
    return {table["name"]: table for table in source["tables"]}


def _runtime(url: str, **env: str) -> Runtime:
    settings = Settings.from_env({"TIKTOK_ETL_HOME": "/tmp/unused", **env})
    return Runtime(settings=settings, database_url=url, engine=None, cipher=None)  # type: ignore[arg-type]


def test_committed_sources_yml_is_the_generated_one() -> None:
    committed = (PROJECT_DIR / SOURCES_PATH).read_text(encoding="utf-8")
    assert committed == sources_yaml(), "run: tiktok-etl dbt sources"


def test_every_table_and_column_of_the_schema_is_a_described_source() -> None:
    tables = _tables()
    assert sorted(tables) == sorted(spec.name for spec in (*RAW_TABLES, MENTIONS))
    for spec in (*RAW_TABLES, MENTIONS):
        table = tables[spec.name]
        assert table["description"]
        assert table["config"]["meta"]["dagster"]["asset_key"] == [spec.name]
        columns = [(c["name"], c["description"], c["data_type"]) for c in table["columns"]]
        assert columns == [(c.name, c.description, c.pg_type) for c in spec.columns]


def test_every_source_asset_key_is_an_asset_of_the_code_location() -> None:
    from tiktok_etl.definitions import defs

    keys = {k.to_user_string() for k in defs.get_repository_def().asset_graph.get_all_asset_keys()}
    for table in _tables().values():
        assert table["config"]["meta"]["dagster"]["asset_key"][0] in keys


def test_source_schema_comes_from_the_environment_and_status_has_the_workflow_values() -> None:
    text = (PROJECT_DIR / SOURCES_PATH).read_text(encoding="utf-8")
    assert "schema: \"{{ env_var('TIKTOK_ETL_PG_SCHEMA', 'tiktok') }}\"" in text
    status = next(c for c in _tables()["sl_mentions"]["columns"] if c["name"] == "status")
    accepted = status["data_tests"][0]["accepted_values"]["arguments"]["values"]
    assert accepted == list(MENTION_STATUSES) == ["new", "replied", "hidden", "deleted"]


def test_embedded_socket_url_becomes_host_and_port_without_a_password() -> None:
    url = "postgresql+psycopg://postgres@/tiktok_etl?host=/tmp/pg%20sock&port=54329"
    env = dbt_environment(_runtime(url))
    assert env == {
        "TIKTOK_ETL_DBT_HOST": "/tmp/pg sock",
        "TIKTOK_ETL_DBT_PORT": "54329",
        "TIKTOK_ETL_DBT_USER": "postgres",
        "TIKTOK_ETL_DBT_DBNAME": "tiktok_etl",
        "TIKTOK_ETL_DBT_SCHEMA": "tiktok_analytics",
        "TIKTOK_ETL_PG_SCHEMA": "tiktok",
    }


def test_configured_url_password_travels_only_as_a_dbt_secret_variable() -> None:
    url = f"postgresql://etl:{SECRET}@db.internal:6543/warehouse?sslmode=require"
    env = dbt_environment(_runtime(url, TIKTOK_ETL_DBT_SCHEMA="marts"))
    assert env[PASSWORD_VAR] == SECRET
    assert PASSWORD_VAR.startswith("DBT_ENV_SECRET_")  # dbt scrubs these from its logs
    assert [name for name, value in env.items() if SECRET in value] == [PASSWORD_VAR]
    assert (env["TIKTOK_ETL_DBT_HOST"], env["TIKTOK_ETL_DBT_PORT"]) == ("db.internal", "6543")
    assert (env["TIKTOK_ETL_DBT_USER"], env["TIKTOK_ETL_DBT_DBNAME"]) == ("etl", "warehouse")
    assert (env["TIKTOK_ETL_DBT_SCHEMA"], env["TIKTOK_ETL_DBT_SSLMODE"]) == ("marts", "require")


@pytest.mark.parametrize("schema", ["tiktok", "Bad-Name"])
def test_models_never_build_into_the_data_schema_or_a_bad_name(schema: str) -> None:
    with pytest.raises(ConfigError, match="TIKTOK_ETL_DBT_SCHEMA"):
        dbt_environment(_runtime("postgresql://u@h/d", TIKTOK_ETL_DBT_SCHEMA=schema))


def test_dbt_build_command_passes_the_password_in_the_environment_not_argv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    import tiktok_etl.runtime
    from tiktok_etl.cli import main

    dbt_cli = importlib.import_module("tiktok_etl.cli.dbt")  # the module, not its group

    url = f"postgresql://etl:{SECRET}@db.internal:6543/warehouse"
    monkeypatch.setattr(tiktok_etl.runtime, "open_runtime", lambda: _runtime(url))
    calls: list[tuple[list[str], dict[str, str]]] = []

    def run(args: list[str], env: dict[str, str], check: bool) -> Any:
        calls.append((args, env))
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(dbt_cli.subprocess, "run", run)
    result = CliRunner().invoke(main, ["dbt", "build", "--select", "open_mentions"])
    assert result.exit_code == 0, result.output
    ((args, env),) = calls
    assert args[1:2] == ["build"] and args[-2:] == ["--select", "open_mentions"]
    assert not any(SECRET in arg for arg in args)
    assert env[PASSWORD_VAR] == SECRET
    assert SECRET not in result.output


def test_definitions_load_without_the_dbt_extra() -> None:
    script = (
        "import sys; sys.modules['dagster_dbt'] = None\n"
        "from tiktok_etl.definitions import defs\n"
        "keys = defs.get_repository_def().asset_graph.get_all_asset_keys()\n"
        "print(sorted(k.to_user_string() for k in keys))\n"
        "print(sorted(defs.resources))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assets, resources = result.stdout.strip().splitlines()[-2:]
    assert "sl_mentions" in assets and "daily_engagement" not in assets
    assert "open_mentions" not in assets and resources == "['tiktok']"


def test_a_project_file_newer_than_the_manifest_makes_it_stale(tmp_path: Path) -> None:
    pytest.importorskip("dagster_dbt", reason="the .[dbt] extra (installed by .ci/run)")
    import os
    import shutil

    from dagster_dbt import DbtProject

    from tiktok_etl.defs.dbt_assets import manifest_is_current

    copy = tmp_path / "dbt"
    shutil.copytree(PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    project = DbtProject(project_dir=copy)
    assert not manifest_is_current(project)  # never parsed
    project.manifest_path.parent.mkdir(parents=True)
    project.manifest_path.write_text("{}")
    assert manifest_is_current(project)
    model = copy / "models" / "open_mentions.sql"
    later = project.manifest_path.stat().st_mtime + 10
    os.utime(model, (later, later))
    assert not manifest_is_current(project)
