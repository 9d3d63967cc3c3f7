"""``tiktok-etl publish VIDEO`` and ``tiktok-etl posts list|status``: post videos to TikTok.

Wired into the main command line by ``tiktok_etl.cli``. The work is done by
:mod:`tiktok_etl.runtime.publishing`; this module parses options, shows the upload's
progress bar and prints the outcome. Refusals (a creator's rules, a limit, a bad file) are
user errors: one line, exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import click

from tiktok_etl.cli.errors import Command, Group
from tiktok_etl.storage.posts import PostRecord

_PRIVACY = click.Choice(
    ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]
)


def _describe(record: PostRecord) -> str:
    text = f"publish_id {record.publish_id}: {record.status}"
    if record.fail_reason:
        text += f" ({record.fail_reason})"
    if record.post_ids:
        text += f"; post id {', '.join(record.post_ids)}"
    return text


@click.command("publish", cls=Command)
@click.argument(
    "video", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--account", "account_key", required=True, help="The account key to post as.")
@click.option("--title", default="", help="The post's title and caption (direct posts).")
@click.option("--privacy", type=_PRIVACY, default="SELF_ONLY", show_default=True)
@click.option("--inbox", is_flag=True, help="Upload to the creator's inbox as a draft.")
@click.option("--cover-ms", type=click.IntRange(min=0), default=None, help="Cover frame (ms).")
@click.option("--no-duet", is_flag=True, help="Turn duets off for this post.")
@click.option("--no-stitch", is_flag=True, help="Turn stitches off for this post.")
@click.option("--no-comment", is_flag=True, help="Turn comments off for this post.")
@click.option("--url", "video_url", default=None, help="PULL_FROM_URL: a verified https URL.")
@click.option("--brand-content", is_flag=True, help="Paid partnership (branded content).")
@click.option("--brand-organic", is_flag=True, help="Promotes the creator's own business.")
@click.option("--aigc", is_flag=True, help="The video is AI-generated content.")
def publish(
    video: Path | None,
    account_key: str,
    title: str,
    privacy: str,
    inbox: bool,
    cover_ms: int | None,
    no_duet: bool,
    no_stitch: bool,
    no_comment: bool,
    video_url: str | None,
    brand_content: bool,
    brand_organic: bool,
    aigc: bool,
) -> None:
    """Post VIDEO (or --url) to TikTok and follow it until TikTok has published it."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from tiktok_etl.runtime import Connector, open_runtime
    from tiktok_etl.runtime.publishing import PublishRequest, open_publisher

    request = PublishRequest(
        title=title,
        privacy=privacy,
        path=video,
        video_url=video_url,
        inbox=inbox,
        cover_ms=cover_ms,
        disable_duet=no_duet,
        disable_comment=no_comment,
        disable_stitch=no_stitch,
        brand_content=brand_content,
        brand_organic=brand_organic,
        is_aigc=aigc,
    )
    connector = Connector.open(open_runtime())
    try:
        publisher = open_publisher(connector, account_key)
        columns = ("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
        # shown once the upload starts, so a refusal before it stays one line
        progress = Progress(*columns, transient=False)
        task = progress.add_task("uploading", total=None, start=False)

        def advance(done: int, total: int) -> None:
            if not progress.live.is_started:
                progress.start()
                progress.start_task(task)
            progress.update(task, completed=done, total=total)

        try:
            record = publisher.publish(request, on_progress=advance)
        finally:
            progress.stop()
    finally:
        connector.close()
    click.echo(_describe(record))
    if record.status not in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX", "FAILED"):
        click.echo(f"still processing: tiktok-etl posts status {record.publish_id}")
    if record.status == "FAILED":
        raise click.ClickException(f"TikTok could not post the video: {record.fail_reason}")


@click.group("posts", cls=Group)
def posts() -> None:
    """Videos posted with `tiktok-etl publish`, and their status at TikTok."""


@posts.command("list")
@click.option("--account", "account_key", default=None, help="Only this account's posts.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def posts_list(account_key: str | None, limit: int) -> None:
    """The latest posts, newest first."""
    from tiktok_etl.runtime import open_runtime
    from tiktok_etl.storage.posts import PostStore

    for record in PostStore(open_runtime().engine).recent(account_key, limit):
        click.echo(
            f"{record.created_at:%Y-%m-%d %H:%M} {record.account_key} {record.mode} "
            f"{record.file_name or ''} {_describe(record)}"
        )


@posts.command("status")
@click.argument("publish_id")
def posts_status(publish_id: str) -> None:
    """Ask TikTok where PUBLISH_ID is now and record it."""
    from tiktok_etl.runtime import Connector, open_runtime
    from tiktok_etl.runtime.publishing import open_publisher
    from tiktok_etl.storage.errors import StorageError
    from tiktok_etl.storage.posts import PostStore

    runtime = open_runtime()
    record = PostStore(runtime.engine).by_publish_id(publish_id)
    if record is None:
        raise StorageError(f"no post with publish_id {publish_id}: see tiktok-etl posts list")
    connector = Connector.open(runtime)
    try:
        publisher = open_publisher(connector, record.account_key)
        publisher.record_status(record.post_key, publisher.client.fetch_status(publish_id))
    finally:
        connector.close()
    updated = PostStore(runtime.engine).get(record.post_key)
    click.echo(_describe(updated or record))
