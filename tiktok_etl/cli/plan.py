"""``tiktok-etl plan``: what a backfill will cost before it starts.

Reads what the database already knows (:mod:`tiktok_etl.storage.plan_stats`), estimates with
:mod:`tiktok_etl.ingest.plan` and prints requests per endpoint, hours at
``TIKTOK_ETL_RATE_LIMIT_PER_MINUTE`` and the binding endpoint. Makes no API request.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import click

from tiktok_etl.cli.errors import Command


@click.command("plan", cls=Command)
@click.option("--days", type=click.IntRange(min=1), required=True, help="Days to back-fill.")
@click.option(
    "--account",
    "account_keys",
    multiple=True,
    help="Account to plan for (repeatable); default: every active account.",
)
@click.option(
    "--assume-accounts",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also plan for this many accounts not connected yet (estimated from averages).",
)
@click.option(
    "--assume-api",
    type=click.Choice(["business", "display"]),
    default="business",
    show_default=True,
    help="The API family of the assumed accounts.",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day of the backfill (UTC); default: today.",
)
@click.option(
    "--partitions-per-run",
    type=click.IntRange(min=1),
    default=None,
    help="Partitions one run covers (a Business run lists every video once); "
    "default: the assets' backfill policy.",
)
def plan(
    days: int,
    account_keys: tuple[str, ...],
    assume_accounts: int,
    assume_api: str,
    until: datetime | None,
    partitions_per_run: int | None,
) -> None:
    """Estimate a backfill of the last DAYS days: requests per endpoint, hours, binding endpoint."""
    from tiktok_etl.defs.partitions import require_from_start
    from tiktok_etl.ingest.plan import (
        COMMENT_PAGE,
        PARTITIONS_PER_RUN,
        averages_from,
        backfill_days,
        format_plan,
        plan_backfill,
    )
    from tiktok_etl.runtime import open_runtime
    from tiktok_etl.storage.plan_stats import account_facts, deployment_facts, selected_accounts

    last: date = until.date() if until else datetime.now(UTC).date()
    window = backfill_days(days, last)
    require_from_start(window[0], f"a {days}-day backfill to {last.isoformat()} starts too early")
    runtime = open_runtime()
    accounts = selected_accounts(runtime.engine, account_keys)
    unknown = sorted(set(account_keys) - set(accounts))
    if unknown:
        raise click.UsageError(
            f"no such account: {', '.join(unknown)} (see `tiktok-etl accounts list`)"
        )
    facts = account_facts(runtime.engine, accounts, window) if accounts else []
    result = plan_backfill(
        facts,
        window,
        averages_from(deployment_facts(runtime.engine, COMMENT_PAGE)),
        rate_limit_per_minute=runtime.settings.rate_limit_per_minute,
        assume_accounts=assume_accounts,
        assume_api="display" if assume_api == "display" else "business",
        partitions_per_run=partitions_per_run or PARTITIONS_PER_RUN,
    )
    click.echo(f"{window[0].isoformat()} .. {window[-1].isoformat()}")
    click.echo(format_plan(result))
