"""``tiktok-etl mentions ...``: act on mentions from the triage queue (reply, delete, list, run).

Each command queues one row in ``sl_mention_actions`` (checked first: an unknown mention, a
Display account and text over 150 characters are refused with one line, exit 2);
``--now`` or ``mentions run`` works the queue in this process, otherwise the
``tiktok_mention_actions`` job (launched by its sensor) does. Output never shows a token.
"""

from __future__ import annotations

from typing import Any

import click

from tiktok_etl.cli.errors import Group

STATUSES = ("requested", "in_flight", "done", "failed", "needs_check")


@click.group(cls=Group)
def mentions() -> None:
    """Reply to, hide or delete mentions through TikTok's Business API (worked exactly once)."""


def _queue(external_id: str, action: Any, **options: Any) -> None:
    from tiktok_etl.runtime import open_runtime
    from tiktok_etl.runtime.mention_actions import request_action

    runtime = open_runtime()
    row = request_action(
        runtime,
        external_id,
        action,
        text=options.get("text"),
        requested_by=options.get("by"),
        tenant_id=options.get("tenant_id"),
    )
    target = (
        f"comment {row.parent_comment_id}" if row.parent_comment_id else f"video {row.video_id}"
    )
    click.echo(f"queued action {row.id}: {row.action} on {row.external_id} ({target})")
    if options.get("now"):
        _run(runtime)


def _run(runtime: Any) -> None:
    from tiktok_etl.runtime.mention_actions import run_mention_actions

    report = run_mention_actions(runtime)
    for line in report.lines:
        click.echo(line)
    if not report.lines:
        click.echo("no open actions")


_by = click.option("--by", default=None, help="Who asks (stored in requested_by).")
_tenant = click.option(
    "--tenant-id", type=int, default=None, help="The mention's tenant, when the id is shared."
)
_now = click.option("--now", is_flag=True, help="Work the queue now, in this process.")


@mentions.command("reply")
@click.argument("external_id")
@click.option("--text", required=True, help="The reply (1 to 150 characters).")
@_by
@_tenant
@_now
def mentions_reply(external_id: str, **options: Any) -> None:
    """Reply to a comment mention (on a video mention: a top-level comment)."""
    _queue(external_id, "reply", **options)


@mentions.command("hide")
@click.argument("external_id")
@_by
@_tenant
@_now
def mentions_hide(external_id: str, **options: Any) -> None:
    """Hide a comment or reply on one of the account's videos from everyone but its author."""
    _queue(external_id, "hide", **options)


@mentions.command("delete")
@click.argument("external_id")
@_by
@_tenant
@_now
def mentions_delete(external_id: str, **options: Any) -> None:
    """Delete a comment or reply on one of the account's videos."""
    _queue(external_id, "delete", **options)


@mentions.command("actions")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only this status.")
@click.option("--limit", type=int, default=50, show_default=True, help="The newest N rows.")
def mentions_actions(status: str | None, limit: int) -> None:
    """List the queue (sl_mention_actions), oldest of the newest N first."""
    from tiktok_etl.runtime import open_runtime
    from tiktok_etl.storage.mention_actions import MentionActionQueue

    rows = MentionActionQueue(open_runtime().engine).list(status, limit)
    if not rows:
        click.echo("no actions" + (f" with status {status}" if status else ""))
        return
    header = ("id", "action", "mention", "status", "attempts", "by", "result", "error")
    table = [header] + [
        (
            str(r.id), r.action, r.external_id, r.status, str(r.attempts),
            r.requested_by or "", r.result_comment_id or "", (r.error or "")[:80],
        )
        for r in rows
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@mentions.command("run")
def mentions_run() -> None:
    """Work every open action now, in this process (the job does the same)."""
    from tiktok_etl.runtime import open_runtime

    _run(open_runtime())
