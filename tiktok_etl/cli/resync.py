"""``tiktok-etl resync --account K [--since DAY]``: repair an account's comments after a bad read.

Wired into the main command line by ``tiktok_etl.cli``. Rebuilds the account's comment
cache from a full read, then re-materializes every affected partition of
``tiktok_comments`` and ``sl_mentions`` through Dagster (one run per partition, recorded
in the instance like any other). The ``tiktok_resync`` job does the same from the UI.
"""

from __future__ import annotations

from datetime import datetime

import click

from tiktok_etl.cli.errors import Command


@click.command("resync", cls=Command)
@click.option("--account", "account_key", required=True, help="The account key to resync.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Re-materialize only partitions from this UTC day on (default: every affected one).",
)
def resync(account_key: str, since: datetime | None) -> None:
    """Rebuild an account's comments from a full read and restore what earlier reads removed."""
    import dagster as dg

    from tiktok_etl.defs.partitions import require_from_start
    from tiktok_etl.defs.resources import resource_from_environment
    from tiktok_etl.defs.resync import rebuild_comment_cache, rematerialize
    from tiktok_etl.runtime import Services, open_runtime

    day = require_from_start(since.date(), "--since") if since else None
    runtime = open_runtime()
    runtime.export_env()
    resource = resource_from_environment()
    report = rebuild_comment_cache(Services.of(runtime), account_key, day)
    click.echo(
        f"{account_key}: read {report.videos_read} videos in full, "
        f"{report.comments_cached} comments cached, {report.videos_forgotten} videos gone, "
        f"{len(report.days)} partitions to re-materialize"
    )
    with dg.DagsterInstance.get() as instance:
        outcomes = rematerialize(instance, resource, account_key, report.days)
    for outcome in outcomes:
        status = "ok" if outcome.success else "FAILED"
        click.echo(f"{account_key}|{outcome.day.isoformat()}: {status} (run {outcome.run_id})")
    failed = [o.day.isoformat() for o in outcomes if not o.success]
    if failed:
        raise click.ClickException(
            f"re-materializing failed for {', '.join(failed)}; run the resync again"
        )
