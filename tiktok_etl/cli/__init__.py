"""``tiktok-etl``: the command line (demo, dev, env, keygen, accounts, sandbox).

Commands resolve configuration through :mod:`tiktok_etl.settings` and storage through
:mod:`tiktok_etl.runtime`; configuration errors end the command with exit code 2 and a
message naming the variable.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

import click

from tiktok_etl.cli import auth as cli_auth
from tiktok_etl.settings import ConfigError, Settings
from tiktok_etl.storage.errors import StorageError

F = TypeVar("F", bound=Callable[..., Any])


def _friendly_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, StorageError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Ingest TikTok users, videos and comments into PostgreSQL and Parquet with Dagster."""


@main.command()
@click.option("--days", default=7, show_default=True, help="Days to materialize, ending today.")
@_friendly_errors
def demo(days: int) -> None:
    """Embedded PostgreSQL + the simulated TikTok: register accounts, materialize, summarize."""
    from tiktok_etl.cli.demo import prepare_demo_environment, run_demo

    prepare_demo_environment(os.environ)
    run_demo(Settings.from_env(), days=days)


@main.command()
@click.option("--port", default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@_friendly_errors
def dev(port: int, host: str) -> None:
    """Start the Dagster UI and daemon on the configured (or embedded) database."""
    from tiktok_etl.cli.demo import is_demo_home, prepare_demo_environment
    from tiktok_etl.runtime import open_runtime

    runtime = open_runtime()
    runtime.prepare_dagster_home()
    env = runtime.child_env()
    if is_demo_home(runtime.settings) and "TIKTOK_ETL_SANDBOX" not in os.environ:
        prepare_demo_environment(env)
        click.echo("this home was populated by `tiktok-etl demo`: runs use the simulated TikTok")
    # the interpreter running us has dagster installed, whatever PATH says
    args = [sys.executable, "-m", "dagster", "dev", "-m", "tiktok_etl.definitions"]
    args += ["-h", host, "-p", str(port)]
    click.echo(f"Dagster UI on http://{host}:{port} (DAGSTER_HOME={env['DAGSTER_HOME']})")
    os.execvpe(args[0], args, env)


@main.command("env")
@_friendly_errors
def env_command() -> None:
    """Print shell exports for running plain `dagster` commands: eval "$(tiktok-etl env)"."""
    from tiktok_etl.runtime import open_runtime
    from tiktok_etl.settings import DAGSTER_URL_VAR

    runtime = open_runtime()
    runtime.prepare_dagster_home()
    env = runtime.child_env()
    for name in ("TIKTOK_ETL_HOME", "TIKTOK_ETL_DATABASE_URL", DAGSTER_URL_VAR, "DAGSTER_HOME"):
        click.echo(f"export {name}={shlex.quote(env[name])}")


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
@_friendly_errors
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
    url = to_libpq_url(runtime.database_url)
    os.execv(executable, [executable, url, *psql_args])


@main.command()
def keygen() -> None:
    """Print a new Fernet key for TIKTOK_ETL_TOKEN_KEY."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@main.group()
def accounts() -> None:
    """Register and manage connected TikTok accounts."""


@accounts.command("add")
@click.option("--key", "account_key", required=True, help="Short partition key, e.g. acme_main.")
@click.option("--api", type=click.Choice(["display", "business"]), required=True)
@click.option("--access-token", required=True, envvar="TIKTOK_ACCESS_TOKEN")
@click.option("--refresh-token", required=True, envvar="TIKTOK_REFRESH_TOKEN")
@click.option("--expires-in", type=int, default=86400, show_default=True)
@click.option("--refresh-expires-in", type=int, default=31536000, show_default=True)
@click.option("--open-id", help="TikTok open_id (the business_id for Business accounts).")
@click.option("--scopes", default="", help="Granted scopes, comma-separated.")
@click.option("--tenant-id", type=int, default=1, show_default=True)
@click.option("--source-id", default=None)
@click.option("--keywords", default="", help="Comma-separated keywords.")
@click.option("--keyword-mode", type=click.Choice(["tag", "filter"]), default="tag")
@_friendly_errors
def accounts_add(**options: Any) -> None:
    """Register an account with tokens you already hold (see `auth login` for the OAuth flow)."""
    from tiktok_etl.auth.model import TokenSet
    from tiktok_etl.runtime.registration import register_account

    if not options["open_id"]:
        raise click.UsageError("--open-id is required (the open_id from the token response)")
    payload = {
        "access_token": options["access_token"],
        "refresh_token": options["refresh_token"],
        "expires_in": options["expires_in"],
        "refresh_expires_in": options["refresh_expires_in"],
        "open_id": options["open_id"],
        "scope": options["scopes"],
        "token_type": "Bearer",
    }
    tokens = TokenSet.from_response(payload, datetime.now(UTC))
    account = register_account(
        account_key=options["account_key"],
        api=options["api"],
        tokens=tokens,
        tenant_id=options["tenant_id"],
        source_id=options["source_id"],
        keywords=[k.strip() for k in options["keywords"].split(",") if k.strip()],
        keyword_mode=options["keyword_mode"],
    )
    click.echo(f"registered {account.account_key} ({account.api}, open_id {account.open_id})")


@accounts.command("list")
@_friendly_errors
def accounts_list() -> None:
    """Show accounts, their status and token expiry."""
    from tiktok_etl.runtime.registration import describe_accounts

    rows = describe_accounts()
    if not rows:
        click.echo("no accounts; add one with `tiktok-etl accounts add` or `tiktok-etl demo`")
        return
    header = ("key", "api", "status", "tenant", "keywords", "access expires", "refresh expires")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@accounts.command("disable")
@click.argument("account_key")
@_friendly_errors
def accounts_disable(account_key: str) -> None:
    """Stop scheduling an account (its data and partitions stay)."""
    from tiktok_etl.runtime import open_runtime

    open_runtime().accounts.set_status(account_key, "disabled", "disabled from the CLI")
    click.echo(f"disabled {account_key}")


@accounts.command("enable")
@click.argument("account_key")
@_friendly_errors
def accounts_enable(account_key: str) -> None:
    """Schedule a disabled account again."""
    from tiktok_etl.runtime import open_runtime

    open_runtime().accounts.set_status(account_key, "active", None)
    click.echo(f"enabled {account_key}")


@accounts.command("keywords")
@click.argument("account_key")
@click.option("--keywords", required=True, help="Comma-separated keywords ('' clears them).")
@click.option("--keyword-mode", type=click.Choice(["tag", "filter"]), default=None)
@_friendly_errors
def accounts_keywords(account_key: str, keywords: str, keyword_mode: str | None) -> None:
    """Change an account's keywords (and mode); re-materialize sl_mentions to apply them."""
    from tiktok_etl.runtime import open_runtime

    store = open_runtime().accounts
    mode = keyword_mode or store.get(account_key).keyword_mode
    words = [k.strip() for k in keywords.split(",") if k.strip()]
    account = store.set_keywords(account_key, words, mode)
    click.echo(
        f"{account.account_key}: keywords {', '.join(account.keywords) or '(none)'} "
        f"({account.keyword_mode}); re-materialize sl_mentions to re-match past days"
    )


@accounts.command("remove")
@click.argument("account_key")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_friendly_errors
def accounts_remove(account_key: str, yes: bool) -> None:
    """Delete an account, its tokens and its partition (ingested rows stay)."""
    from tiktok_etl.runtime.registration import remove_account

    if not yes:
        click.confirm(f"Remove {account_key} and its tokens?", abort=True)
    remove_account(account_key)
    click.echo(f"removed {account_key}")


@main.group()
def sandbox() -> None:
    """The simulated TikTok used by the demo, the tests and the benchmarks."""


@sandbox.command("serve")
@click.option("--port", default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--latency", default=0.0, show_default=True, help="Seconds added to each request.")
@click.option("--rate-limit", type=int, default=None, help="Enforced requests/min per endpoint.")
@click.option("--access-token-ttl", type=int, default=86400, show_default=True)
def sandbox_serve(
    port: int, host: str, seed: int, latency: float, rate_limit: int | None, access_token_ttl: int
) -> None:
    """Serve both API families over HTTP (Display at /v2, Business at /open_api/v1.3)."""
    from tiktok_etl.sandbox import FaultConfig, SandboxServer, build_sandbox

    app = build_sandbox(
        seed=seed,
        faults=FaultConfig(latency=latency, rate_limit_per_minute=rate_limit),
        access_token_ttl=access_token_ttl,
    )
    server = SandboxServer(app, host=host, port=port)
    click.echo(f"sandbox on http://{host}:{port}  (Business root: /open_api/v1.3)")
    click.echo(
        f"  TIKTOK_API_BASE_URL=http://{host}:{port} "
        f"TIKTOK_BUSINESS_API_BASE_URL=http://{host}:{port}/open_api/v1.3"
    )
    sys.stdout.flush()
    server.serve_forever()


main.add_command(cli_auth.auth)
accounts.add_command(cli_auth.accounts_revoke)


if __name__ == "__main__":
    main()
