"""``tiktok-etl keys``: the token key's lifecycle (rotate to a new key, or reset after a loss).

``TIKTOK_ETL_TOKEN_KEY`` accepts several comma-separated keys, newest first: the first
encrypts, every one decrypts. ``keys rotate`` re-encrypts every stored token and the key
fingerprint under the newest key, after which the older keys can be removed. ``keys reset``
is for a key that is gone for good: it forgets every stored token and asks for a new login.
"""

from __future__ import annotations

import click

from tiktok_etl.cli.errors import Command, Group


@click.group(cls=Group)
def keys() -> None:
    """Rotate or reset the key that encrypts stored tokens (TIKTOK_ETL_TOKEN_KEY)."""


@keys.command(cls=Command)
def rotate() -> None:
    """Re-encrypt every stored token under the newest key of TIKTOK_ETL_TOKEN_KEY.

    Set TIKTOK_ETL_TOKEN_KEY=<new key>,<old key> first; afterwards <old key> can go.
    """
    from tiktok_etl.auth.keycheck import rotate_fingerprint
    from tiktok_etl.runtime import open_runtime

    runtime = open_runtime(check_key=False)
    count = runtime.tokens.rotate_key()
    rotate_fingerprint(runtime.engine, runtime.cipher)
    click.echo(f"re-encrypted {count} stored token pair(s) under the newest key")
    if runtime.cipher.key_count > 1:
        click.echo("the older keys in TIKTOK_ETL_TOKEN_KEY can now be removed")


@keys.command(cls=Command)
@click.option("--yes", is_flag=True, help="Confirm: every stored token is deleted.")
def reset(yes: bool) -> None:
    """Forget every stored token (after losing the key) and trust the configured key.

    Every active account becomes reauth_required: run `tiktok-etl auth login` for each.
    """
    from tiktok_etl.auth.keycheck import reset_fingerprint
    from tiktok_etl.runtime import open_runtime

    if not yes:
        raise click.UsageError("this deletes every stored token; repeat with --yes")
    runtime = open_runtime(check_key=False)
    reset_fingerprint(runtime.engine, runtime.cipher)
    click.echo("stored tokens forgotten; re-authorize each account with `tiktok-etl auth login`")
