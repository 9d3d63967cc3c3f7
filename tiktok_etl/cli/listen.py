"""``tiktok-etl listen ...``: listening queries on the Research API, and its daily quota.

``add`` validates the key and the query syntax (see :mod:`tiktok_etl.api.research_query`)
before storing anything; ``list`` shows each query as TikTok will run it; ``quota`` shows
today's shared usage and when it resets. No command here calls TikTok.
"""

from __future__ import annotations

import json
from datetime import date

import click

from tiktok_etl.api.research_query import QuerySyntaxError, parse_query
from tiktok_etl.cli.errors import Group, UserError


@click.group(cls=Group)
def listen() -> None:
    """Keyword and hashtag listening through TikTok's Research API (academic access)."""


def _since(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"invalid --since {value!r}: write a date as YYYY-MM-DD") from None


@listen.command("add")
@click.argument("query_key")
@click.option(
    "--query",
    "query_text",
    required=True,
    help="e.g. '#acme OR acme', 'acme \"new flavour\" -recall', '@acme_official'.",
)
@click.option(
    "--region",
    "regions",
    multiple=True,
    help="Two-letter region code; repeat for several (any of them).",
)
@click.option("--tenant", "tenant_id", type=int, default=1, show_default=True)
@click.option("--source-id", default=None, help="Social-listening source id for the mentions.")
@click.option("--since", default=None, help="First UTC day to listen to (YYYY-MM-DD).")
def listen_add(
    query_key: str,
    query_text: str,
    regions: tuple[str, ...],
    tenant_id: int,
    source_id: str | None,
    since: str | None,
) -> None:
    """Register a listening query under QUERY_KEY (a partition of the listening assets)."""
    from tiktok_etl.runtime.research import register_query

    first_day = _since(since)
    try:
        parse_query(query_text, regions)
    except QuerySyntaxError as exc:
        raise UserError(f"invalid --query {query_text!r}: {exc}") from None
    stored = register_query(
        query_key=query_key,
        query_text=query_text,
        regions=regions,
        tenant_id=tenant_id,
        source_id=source_id,
        since=first_day,
    )
    click.echo(f"registered listening query {stored.query_key}: {stored.query_text}")


@listen.command("list")
def listen_list() -> None:
    """Show listening queries and the query object TikTok receives."""
    from tiktok_etl.runtime import open_runtime
    from tiktok_etl.storage.research import ListeningQueryStore

    queries = ListeningQueryStore(open_runtime().engine).list()
    if not queries:
        click.echo("no listening queries; add one with `tiktok-etl listen add KEY --query ...`")
        return
    for query in queries:
        tiktok = parse_query(query.query_text, query.regions).to_tiktok()
        extra = f" regions={','.join(query.regions)}" if query.regions else ""
        since = f" since={query.since}" if query.since else ""
        click.echo(f"{query.query_key}  tenant={query.tenant_id}{extra}{since}  {query.query_text}")
        click.echo(f"  {json.dumps(tiktok, ensure_ascii=False)}")


@listen.command("remove")
@click.argument("query_key")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def listen_remove(query_key: str, yes: bool) -> None:
    """Delete a listening query and its partitions (ingested rows stay)."""
    from tiktok_etl.runtime.research import remove_query

    if not yes:
        click.confirm(f"Remove listening query {query_key}?", abort=True)
    remove_query(query_key)
    click.echo(f"removed listening query {query_key}")


@listen.command("quota")
def listen_quota() -> None:
    """Today's Research API usage, shared by every process, and when it resets."""
    from tiktok_etl.runtime.research import quota_usage

    usage = quota_usage()
    state = "exhausted" if usage.exhausted else "available"
    click.echo(
        f"{usage.day.isoformat()}: {usage.requests}/{usage.request_limit} requests, "
        f"{usage.records}/{usage.record_limit} records ({state}); resets at {usage.resets_at}"
    )
