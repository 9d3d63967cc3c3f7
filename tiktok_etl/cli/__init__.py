"""``tiktok-etl``: the command line. Only the top-level group and where each command lives.

Each command group has its own module; :mod:`tiktok_etl.cli.errors` is the one handler
that turns user errors into a one-line message and exit code 2. Commands resolve
configuration through :mod:`tiktok_etl.settings` and storage through
:mod:`tiktok_etl.runtime`; nothing here does either.
"""

from __future__ import annotations

import click

from tiktok_etl.cli.accounts import accounts
from tiktok_etl.cli.auth import accounts_revoke, auth
from tiktok_etl.cli.dbt import dbt
from tiktok_etl.cli.demo import demo
from tiktok_etl.cli.errors import Group
from tiktok_etl.cli.keys import keys
from tiktok_etl.cli.listen import listen
from tiktok_etl.cli.mentions import mentions
from tiktok_etl.cli.plan import plan
from tiktok_etl.cli.publish import posts, publish
from tiktok_etl.cli.resync import resync
from tiktok_etl.cli.runs import runs
from tiktok_etl.cli.sandbox import sandbox
from tiktok_etl.cli.workspace import dev, env_command, keygen, psql


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Ingest TikTok users, videos and comments into PostgreSQL and Parquet with Dagster."""


for command in (
    demo,
    dev,
    env_command,
    psql,
    keygen,
    keys,
    accounts,
    auth,
    plan,
    resync,
    runs,
    mentions,
    sandbox,
    listen,
    publish,
    posts,
    dbt,
):
    main.add_command(command)
accounts.add_command(accounts_revoke)
