"""``tiktok-etl dbt``: the example dbt project (``examples/dbt``) on the configured database.

``sources`` regenerates ``models/sources.yml`` from the connector's schema; ``build`` runs
``dbt build`` with the connection derived from the same configuration as every other
command (the embedded PostgreSQL by default). The password reaches dbt through its
environment, never its arguments. dbt itself comes with the ``.[dbt]`` extra.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from tiktok_etl.cli.errors import Group, UserError

_PROJECT_DIR_HELP = "the dbt project (default: examples/dbt of this checkout)"


def _project_dir(value: Path | None) -> Path:
    from tiktok_etl.defs.dbt import PROJECT_DIR

    project_dir = (value or PROJECT_DIR).resolve()
    if not (project_dir / "dbt_project.yml").exists():
        raise UserError(
            f"no dbt project in {project_dir}: pass --project-dir <a copy of examples/dbt>"
        )
    return project_dir


@click.group(cls=Group)
def dbt() -> None:
    """The example dbt project on the connector's tables (install with .[dbt])."""


@dbt.command()
@click.option("--project-dir", type=click.Path(path_type=Path), help=_PROJECT_DIR_HELP)
@click.option("--check", is_flag=True, help="only check the file is current (exit 1 if not)")
def sources(project_dir: Path | None, check: bool) -> None:
    """Write models/sources.yml from the connector's schema (every table and column)."""
    from tiktok_etl.defs.dbt_sources import SOURCES_PATH, sources_yaml, write_sources

    folder = _project_dir(project_dir)
    if check:
        path = folder / SOURCES_PATH
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != sources_yaml():
            click.echo(f"{path} is out of date: run tiktok-etl dbt sources", err=True)
            sys.exit(1)
        click.echo(f"{path} is current")
        return
    click.echo(f"wrote {write_sources(folder)}")


@dbt.command(context_settings={"ignore_unknown_options": True})
@click.option("--project-dir", type=click.Path(path_type=Path), help=_PROJECT_DIR_HELP)
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def build(project_dir: Path | None, dbt_args: tuple[str, ...]) -> None:
    """Run `dbt build` on the configured (or embedded) database; extra arguments go to dbt."""
    from tiktok_etl.runtime import open_runtime
    from tiktok_etl.runtime.dbt_env import dbt_environment, dbt_executable

    folder = _project_dir(project_dir)
    executable = dbt_executable()
    if executable is None:
        raise UserError('dbt is not installed: pip install -e ".[dbt]"')
    env = {**os.environ, **dbt_environment(open_runtime())}
    args = [executable, "build", "--project-dir", str(folder), "--profiles-dir", str(folder)]
    result = subprocess.run([*args, *dbt_args], env=env, check=False)
    if result.returncode:
        sys.exit(result.returncode)
