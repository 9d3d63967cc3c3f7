"""The synthetic world: deterministic, clock-bounded, realistic enough to break naive code."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tiktok_etl.sandbox import SandboxClock, SandboxWorld

from . import helpers
from .helpers import DAY, START, small_world, world_digest

HISTORY = (START - timedelta(days=60), START + timedelta(days=1))


def test_same_seed_gives_identical_data() -> None:
    assert world_digest(small_world(), "acct-1") == world_digest(small_world(), "acct-1")


def test_other_seed_or_account_gives_other_data() -> None:
    assert world_digest(small_world(), "acct-1") != world_digest(small_world(seed=8), "acct-1")
    assert world_digest(small_world(), "acct-1") != world_digest(small_world(), "acct-2")


def test_separate_processes_generate_identical_data() -> None:
    script = Path(helpers.__file__)
    result = subprocess.run(
        [sys.executable, str(script), "acct-1"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == world_digest(small_world(), "acct-1")


def test_only_records_created_by_now_are_visible() -> None:
    clock = SandboxClock(START)
    sandbox = SandboxWorld(7, clock, history_days=60)
    today = START.date()
    before = sandbox.videos("acct-1", today)
    comments_before = sandbox.comments("acct-1", today)
    assert all(video["create_time"] <= START.timestamp() for video in before)
    assert all(int(item["create_time"]) <= START.timestamp() for item in comments_before)

    clock.advance(12 * 3600 - 1)
    after = sandbox.videos("acct-1", today)
    assert len(after) >= len(before)
    assert [video["id"] for video in after[: len(before)]] == [video["id"] for video in before]
    assert len(sandbox.comments("acct-1", today)) > len(comments_before)


def test_history_starts_history_days_ago() -> None:
    sandbox = small_world()
    assert sandbox.videos("acct-1", START - timedelta(days=200), START - timedelta(days=62)) == []
    assert sandbox.videos("acct-1", *HISTORY)


def test_timestamps_sit_on_day_boundaries() -> None:
    sandbox = small_world(boundary_ratio=0.2)
    videos = sandbox.videos("acct-1", *HISTORY)
    comments = sandbox.comments("acct-1", *HISTORY)
    video_seconds = {video["create_time"] % 86_400 for video in videos}
    comment_seconds = {int(item["create_time"]) % 86_400 for item in comments}
    assert {0, 86_399} <= video_seconds
    assert {0, 86_399} <= comment_seconds


def test_default_world_has_boundary_videos_across_accounts() -> None:
    sandbox = SandboxWorld(7, SandboxClock(START))
    seconds = {
        video["create_time"] % 86_400
        for account in ("acct-1", "acct-2")
        for video in sandbox.videos(account, START - timedelta(days=400), START)
    }
    assert {0, 86_399} <= seconds


def test_texts_look_like_real_life() -> None:
    sandbox = small_world()
    captions = [video["video_description"] for video in sandbox.videos("acct-1", *HISTORY)]
    comments = [item["text"] for item in sandbox.comments("acct-1", *HISTORY)]
    texts = captions + comments
    patterns = {
        "arabic": r"[\u0600-\u06FF]",
        "japanese": r"[\u3040-\u30FF]",
        "chinese": r"[\u4E00-\u9FFF]",
        "emoji": r"[\U0001F300-\U0001FAFF]",
        "newline": r"\n",
        "quote": r"[\"']",
        "hashtag": r"#AcmeLaunch",
        "brand": r"(?i)\bacme\b",
    }
    for name, pattern in patterns.items():
        assert any(re.search(pattern, text) for text in texts), name
    assert "" in captions
    assert "" in comments


def test_heavy_videos_have_hundreds_of_comments() -> None:
    videos = small_world(heavy_video_ratio=0.05).business_videos("acct-1", *HISTORY)
    counts = [video["comments"] for video in videos]
    assert max(counts) >= 300
    assert sorted(counts)[len(counts) // 2] <= 30


def test_comments_include_replies_and_comments_on_old_videos() -> None:
    sandbox = small_world()
    day_start = datetime(2026, 11, 3, tzinfo=UTC).timestamp()
    comments = sandbox.comments("acct-1", DAY)
    video_times = {
        video["id"]: video["create_time"] for video in sandbox.videos("acct-1", *HISTORY)
    }
    assert any("parent_comment_id" in item for item in comments)
    assert any(video_times[item["video_id"]] < day_start - 7 * 86_400 for item in comments)
    assert all(day_start <= int(item["create_time"]) < day_start + 86_400 for item in comments)


def test_metrics_grow_as_time_passes() -> None:
    clock = SandboxClock(START)
    sandbox = SandboxWorld(7, clock, history_days=60)
    window = (START - timedelta(days=3), START)
    before = {video["id"]: video for video in sandbox.videos("acct-1", *window)}
    clock.advance(3 * 86_400)
    after = {video["id"]: video for video in sandbox.videos("acct-1", *window)}
    assert before.keys() == after.keys()
    for key in ("view_count", "like_count", "comment_count", "share_count"):
        assert all(after[vid][key] >= before[vid][key] for vid in before), key
    assert any(after[vid]["view_count"] > before[vid]["view_count"] for vid in before)
    assert any(after[vid]["comment_count"] > before[vid]["comment_count"] for vid in before)


def test_follower_count_grows_by_day() -> None:
    clock = SandboxClock(START)
    sandbox = SandboxWorld(7, clock)
    before = sandbox.user("acct-1")["follower_count"]
    clock.advance(10 * 86_400)
    assert sandbox.user("acct-1")["follower_count"] > before


def test_malformed_ratio_serves_broken_records() -> None:
    sandbox = small_world(malformed_ratio=0.2)
    videos = sandbox.videos("acct-1", *HISTORY)
    comments = sandbox.comments("acct-1", *HISTORY)
    assert any("id" not in video for video in videos)
    assert any(video.get("create_time") == "not-a-time" for video in videos)
    assert any("comment_id" not in item for item in comments)
    assert all(
        "id" in video and isinstance(video["create_time"], int)
        for video in small_world().videos("acct-1", *HISTORY)
    )


def test_ids_are_strings_and_create_times_follow_each_family() -> None:
    sandbox = small_world()
    video = sandbox.videos("acct-1", DAY)[0]
    business = sandbox.business_videos("acct-1", DAY)[0]
    comment = sandbox.comments("acct-1", DAY)[0]
    assert isinstance(video["id"], str) and isinstance(video["create_time"], int)
    assert isinstance(business["item_id"], str) and isinstance(business["create_time"], str)
    assert isinstance(comment["comment_id"], str) and isinstance(comment["create_time"], str)
    assert business["item_id"] == video["id"]
