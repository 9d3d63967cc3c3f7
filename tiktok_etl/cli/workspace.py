"""``tiktok-etl dev``, ``env``, ``psql`` and ``keygen``: work with the configured workspace.

The workspace is what :func:`tiktok_etl.runtime.open_runtime` resolves: the database
(configured or embedded), the Dagster home and the token key. These commands start tools on
it or print what other tools need; they hold no configuration rules of their own.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click

from tiktok_etl.cli.demo import is_demo_home, prepare_demo_environment
from tiktok_etl.cli.errors import Command


@click.command(cls=Command)
@click.option("--port", default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def dev(port: int, host: str) -> None:
    """Start the Dagster UI and daemon on the configured (or embedded) database."""
    from tiktok_etl.runtime import open_runtime

    runtime = open_runtime()
    home = runtime.prepare_dagster_home()
    env = runtime.child_env()
    if is_demo_home(runtime.settings) and "TIKTOK_ETL_SANDBOX" not in os.environ:
        prepare_demo_environment(env, runtime.settings.home)
        click.echo("this home was populated by `tiktok-etl demo`: runs use the simulated TikTok")
    project = os.getcwd()
    env.update(_absolute_paths(env, project))
    args = [*dev_server_command(), "-m", "tiktok_etl.definitions", "-d", project]
    args += ["-h", host, "-p", str(port)]
    click.echo(f"Dagster UI on http://{host}:{port} (DAGSTER_HOME={env['DAGSTER_HOME']})")
    # Started in DAGSTER_HOME, which holds the instance config: Dagster reads it from there,
    # and does not warn about a project's own dagster.yaml in the current directory.
    os.chdir(home)
    os.execvpe(args[0], args, env)


def dev_server_command() -> list[str]:
    """``dg dev`` (dagster-dg-cli, Dagster's successor of ``dagster dev``) when installed beside
    this interpreter; else ``dagster dev``, without its notice that ``dg dev`` supersedes it."""
    dg = Path(sys.executable).with_name("dg")
    if dg.exists():
        return [str(dg), "dev"]
    notice = "ignore:Function `dev_command` is superseded:FutureWarning"
    return [sys.executable, "-W", notice, "-m", "dagster", "dev"]


def _absolute_paths(env: dict[str, str], base: str) -> dict[str, str]:
    """A relative local Parquet root, made absolute: the server does not start in ``base``."""
    root = env.get("TIKTOK_ETL_PARQUET_ROOT", "")
    if root and "://" not in root and not os.path.isabs(root):
        return {"TIKTOK_ETL_PARQUET_ROOT": os.path.join(base, root)}
    return {}


@click.command("env", cls=Command)
def env_command() -> None:
    """Print shell exports for running plain `dagster` commands: eval "$(tiktok-etl env)"."""
    from tiktok_etl.runtime import open_runtime
    from tiktok_etl.settings import SETTINGS

    runtime = open_runtime()
    runtime.prepare_dagster_home()
    env = runtime.child_env()
    names = [entry.variable for entry in SETTINGS if entry.shell_export]
    for name in (*names, "DAGSTER_HOME"):
        click.echo(f"export {name}={shlex.quote(env[name])}")


@click.command(cls=Command, context_settings={"ignore_unknown_options": True})
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
def psql(psql_args: tuple[str, ...]) -> None:
    """Open psql on the configured (or embedded) database; extra arguments go to psql."""
    import shutil

    from tiktok_etl.runtime import open_runtime
    from tiktok_etl.storage.db import to_libpq_url
    from tiktok_etl.storage.embedded import bundled_binary

    runtime = open_runtime()
    executable = bundled_binary("psql") or shutil.which("psql")
    if executable is None:
        raise click.ClickException("no psql found: install a PostgreSQL client")
    # the engine's URL: psql lands in TIKTOK_ETL_PG_SCHEMA like every data connection
    url = to_libpq_url(runtime.engine.url.render_as_string(hide_password=False))
    os.execv(executable, [executable, url, *psql_args])


@click.command(cls=Command)
def keygen() -> None:
    """Print a new Fernet key for TIKTOK_ETL_TOKEN_KEY."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())
