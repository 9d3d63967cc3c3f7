"""``tiktok-etl accounts ...``: register and manage connected TikTok accounts.

Registering with tokens already held, listing, disabling, enabling, changing keywords and
removing. Connecting through OAuth and revoking live in :mod:`tiktok_etl.cli.auth`. Output
names accounts and open_ids, never a token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from tiktok_etl.cli.errors import Group
from tiktok_etl.storage.accounts import KeywordMode


@click.group(cls=Group)
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
def accounts_disable(account_key: str) -> None:
    """Stop scheduling an account (its data and partitions stay)."""
    from tiktok_etl.runtime import open_runtime

    open_runtime().accounts.set_status(account_key, "disabled", "disabled from the CLI")
    click.echo(f"disabled {account_key}")


@accounts.command("enable")
@click.argument("account_key")
def accounts_enable(account_key: str) -> None:
    """Schedule a disabled account again."""
    from tiktok_etl.runtime import open_runtime

    open_runtime().accounts.set_status(account_key, "active", None)
    click.echo(f"enabled {account_key}")


@accounts.command("keywords")
@click.argument("account_key")
@click.option("--keywords", required=True, help="Comma-separated keywords ('' clears them).")
@click.option("--keyword-mode", type=click.Choice(["tag", "filter"]), default=None)
def accounts_keywords(account_key: str, keywords: str, keyword_mode: KeywordMode | None) -> None:
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
def accounts_remove(account_key: str, yes: bool) -> None:
    """Delete an account, its tokens and its partition (ingested rows stay)."""
    from tiktok_etl.runtime.registration import remove_account

    if not yes:
        click.confirm(f"Remove {account_key} and its tokens?", abort=True)
    remove_account(account_key)
    click.echo(f"removed {account_key}")
