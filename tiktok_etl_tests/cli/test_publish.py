"""``tiktok-etl publish`` and ``tiktok-etl posts`` as a user runs them, against the sandbox
served on a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tiktok_etl.sandbox import DISPLAY_SCOPES_ALL, SandboxApp, SandboxServer, build_sandbox
from tiktok_etl_tests.videos import encode_video

from .conftest import CliInvoke

SCOPES = (*DISPLAY_SCOPES_ALL, "video.publish", "video.upload")


@pytest.fixture
def app() -> SandboxApp:
    app = build_sandbox(seed=7, history_days=3, videos_per_day=(0, 1))
    app.posting.processing_seconds = 0
    return app


@pytest.fixture
def server(app: SandboxApp) -> Iterator[SandboxServer]:
    with SandboxServer(app) as served:
        yield served


def _add_account(tiktok_etl: CliInvoke, app: SandboxApp, base_url: str, scopes: str) -> None:
    tokens = app.issue_tokens("creator-1", "display", SCOPES)
    result = tiktok_etl(
        "accounts", "add", "--key", "creator_1", "--api", "display",
        "--access-token", tokens["access_token"], "--refresh-token", tokens["refresh_token"],
        "--open-id", "creator-1", "--scopes", scopes, TIKTOK_API_BASE_URL=base_url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_publish_posts_a_video_and_posts_lists_it(
    tiktok_etl: CliInvoke, app: SandboxApp, server: SandboxServer, tmp_path: Path
) -> None:
    _add_account(tiktok_etl, app, server.base_url, ",".join(SCOPES))
    video = encode_video(tmp_path / "clip.mp4", seconds=3.5, width=64, height=64)
    result = tiktok_etl(
        "publish", str(video), "--account", "creator_1", "--title", "from the cli",
        "--no-duet", TIKTOK_API_BASE_URL=server.base_url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "PUBLISH_COMPLETE; post id" in result.output
    (publish_id,) = app.posting.uploads
    listing = tiktok_etl("posts", "list", TIKTOK_API_BASE_URL=server.base_url)
    assert f"creator_1 direct clip.mp4 publish_id {publish_id}: PUBLISH_COMPLETE" in (
        listing.output
    )
    status = tiktok_etl("posts", "status", publish_id, TIKTOK_API_BASE_URL=server.base_url)
    assert status.exit_code == 0, status.output
    assert "PUBLISH_COMPLETE" in status.output


def test_a_refused_post_is_one_line_and_exit_code_2(
    tiktok_etl: CliInvoke, app: SandboxApp, server: SandboxServer, tmp_path: Path
) -> None:
    _add_account(tiktok_etl, app, server.base_url, ",".join(DISPLAY_SCOPES_ALL))
    video = encode_video(tmp_path / "clip.mp4", seconds=3.5, width=64, height=64)
    result = tiktok_etl(
        "publish", str(video), "--account", "creator_1", TIKTOK_API_BASE_URL=server.base_url
    )
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: account creator_1: the token lacks scope video.publish")
    assert "tiktok-etl auth login --api display --key creator_1" in line
    assert app.posting.inits == []
