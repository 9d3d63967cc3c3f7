"""``tiktok-etl auth ...`` and ``tiktok-etl accounts revoke``: connect and disconnect accounts.

The login flows themselves live in :mod:`tiktok_etl.runtime.login`; this module only parses
options and prints. Output names accounts, open_ids and scopes; never a token, secret, code
or PKCE verifier.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tiktok_etl.auth.login import (
    LOGIN_TIMEOUT_SECONDS,
    PKCE_MODES,
    LoginResult,
    callback_query,
    discard_pending,
    load_pending,
    save_pending,
)
from tiktok_etl.cli.errors import Command, Group
from tiktok_etl.runtime.login import (
    begin_login,
    finish_login,
    open_connector,
    revoke_account,
    run_login,
)

F = TypeVar("F", bound=Callable[..., Any])


def _keywords(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def _account_options(fn: F) -> F:
    """Options that describe the account to register (shared by `login` and `url`)."""
    for decorator in reversed(
        [
            click.option(
                "--api",
                type=click.Choice(["display", "business"]),
                required=True,
                help="API family.",
            ),
            click.option(
                "--key", "account_key", required=True, help="Short partition key, e.g. acme_main."
            ),
            click.option(
                "--scopes",
                default="",
                help="Scopes to request, comma-separated (default: the family's read scopes).",
            ),
            click.option(
                "--pkce",
                type=click.Choice(PKCE_MODES),
                default="S256",
                show_default=True,
                help="PKCE challenge for Display logins: RFC 7636 S256, TikTok desktop's hex, "
                "or none. Business logins use state only.",
            ),
            click.option("--tenant-id", type=int, default=1, show_default=True),
            click.option("--source-id", default=None),
            click.option("--keywords", default="", help="Comma-separated keywords."),
            click.option("--keyword-mode", type=click.Choice(["tag", "filter"]), default="tag"),
        ]
    ):
        fn = decorator(fn)
    return fn


def _report(result: LoginResult, requested: tuple[str, ...] | None = None) -> None:
    account = result.account
    verb = "registered" if result.created else "re-authorized"
    click.echo(f"{verb} {account.account_key} ({account.api}, open_id {account.open_id}); active")
    click.echo(f"granted scopes: {', '.join(result.scopes) or '(none reported)'}")
    if requested:
        missing = [s for s in requested if s not in result.scopes]
        if missing and result.scopes:
            click.echo(f"warning: not granted: {', '.join(missing)}", err=True)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def auth() -> None:
    """Connect TikTok accounts with OAuth (state + PKCE; tokens stored encrypted)."""


@auth.command("login")
@_account_options
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Callback port on 127.0.0.1 (0: any free port). The app must accept "
    "http://127.0.0.1:<port>/callback/ as a redirect URI.",
)
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
@click.option(
    "--timeout",
    type=float,
    default=LOGIN_TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds to wait for the callback.",
)
def auth_login(**options: Any) -> None:
    """Authorize an account in the browser; a listener on 127.0.0.1 receives the callback.

    Logging in to an existing account (same --api) stores new tokens and makes it active
    again: this is how an account marked reauth_required is repaired.
    """
    from tiktok_etl.runtime import open_runtime

    runtime = open_runtime()
    with open_connector(runtime) as connector:
        result = run_login(
            connector,
            account_key=options["account_key"],
            api=options["api"],
            emit=click.echo,
            port=options["port"],
            scopes=options["scopes"],
            pkce=options["pkce"],
            tenant_id=options["tenant_id"],
            source_id=options["source_id"],
            keywords=_keywords(options["keywords"]),
            keyword_mode=options["keyword_mode"],
            open_browser=not options["no_browser"],
            timeout=options["timeout"],
        )
    _report(result)


@auth.command("url")
@_account_options
@click.option(
    "--redirect-uri",
    required=True,
    help="A redirect URI registered for the app; after consent the browser lands there.",
)
def auth_url(**options: Any) -> None:
    """Print the authorize URL for a machine without a browser; finish with `auth exchange`.

    The login's state and PKCE verifier wait in a 0600 file under TIKTOK_ETL_HOME.
    """
    from tiktok_etl.runtime import open_runtime

    runtime = open_runtime()
    with open_connector(runtime) as connector:
        pending, url = begin_login(
            connector,
            account_key=options["account_key"],
            api=options["api"],
            redirect_uri=options["redirect_uri"],
            scopes=options["scopes"],
            pkce=options["pkce"],
            tenant_id=options["tenant_id"],
            source_id=options["source_id"],
            keywords=_keywords(options["keywords"]),
            keyword_mode=options["keyword_mode"],
        )
    save_pending(runtime.settings.home, pending)
    click.echo(
        f"Open this URL in a browser to authorize {pending.api} account {pending.account_key!r}:"
    )
    click.echo(url)
    click.echo(
        "Then run: tiktok-etl auth exchange --key "
        f"{pending.account_key} --callback-url '<the full URL the browser was redirected to>'"
    )


@auth.command("exchange")
@click.option("--key", "account_key", required=True, help="The key given to `auth url`.")
@click.option(
    "--callback-url",
    default=None,
    help="The full URL the browser was redirected to ('-' reads it from stdin).",
)
@click.option("--code", default=None, help="The code parameter of the callback (with --state).")
@click.option("--state", default=None, help="The state parameter of the callback.")
def auth_exchange(
    account_key: str, callback_url: str | None, code: str | None, state: str | None
) -> None:
    """Complete a login started with `auth url`: check state, exchange the code, store tokens."""
    from tiktok_etl.runtime import open_runtime

    if callback_url is not None and (code or state):
        raise click.UsageError("give either --callback-url or --code and --state, not both")
    if callback_url == "-":
        callback_url = sys.stdin.readline()
    if callback_url:
        query = callback_query(callback_url)
    elif code and state:
        query = {"code": code, "state": state}
    else:
        raise click.UsageError("give --callback-url, or both --code and --state")
    runtime = open_runtime()
    pending = load_pending(runtime.settings.home, account_key)
    with open_connector(runtime) as connector:
        result = finish_login(connector, pending, query)
    discard_pending(runtime.settings.home, account_key)
    _report(result, pending.scopes)


@click.command("revoke", cls=Command)
@click.argument("account_key")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def accounts_revoke(account_key: str, yes: bool) -> None:
    """Revoke an account's authorization at TikTok and mark it revoked (its data stays)."""
    from tiktok_etl.runtime import open_runtime

    if not yes:
        click.confirm(f"Revoke {account_key}'s authorization at TikTok?", abort=True)
    runtime = open_runtime()
    with open_connector(runtime) as connector:
        result = revoke_account(connector, account_key)
    note = {
        "revoked": "token revoked at TikTok, stored tokens deleted",
        "already_invalid": "TikTok no longer accepted its token; stored tokens deleted",
        "no_tokens": "no tokens were stored",
    }[result.remote]
    click.echo(f"revoked {account_key}: {note}")
    click.echo(
        f"to connect it again: tiktok-etl auth login --api {result.account.api} --key {account_key}"
    )
