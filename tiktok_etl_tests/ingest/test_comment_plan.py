"""The comment reader's decisions, on plain records: no Dagster, no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tiktok_etl.api import BusinessComment, BusinessVideo
from tiktok_etl.ingest.comment_plan import (
    EPOCH,
    OVERLAP,
    VideoReread,
    count_exceeds_found,
    older_parents_that_moved,
    parents_whose_replies_moved,
    plan_reads,
    plan_video,
)
from tiktok_etl.ingest.window import DayWindow
from tiktok_etl.storage.comment_cache import VideoState

WINDOW = DayWindow(date(2026, 11, 5))
LISTED_AT = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
LAST_READ = LISTED_AT - timedelta(hours=6)
NEWEST_CACHED = datetime(2026, 11, 9, 8, 30, tzinfo=UTC)


def video(video_id: str, comments: int | None, created: datetime | None = None) -> BusinessVideo:
    return BusinessVideo(
        item_id=video_id,
        create_time=created or datetime(2026, 10, 1, tzinfo=UTC),
        comments=comments,
    )


def state(
    video_id: str,
    comment_count: int,
    newest: datetime | None = NEWEST_CACHED,
    checked_at: datetime = LAST_READ,
) -> VideoState:
    return VideoState(
        video_id=video_id,
        comment_count=comment_count,
        newest_comment_time=newest,
        checked_at=checked_at,
    )


def comment(comment_id: str, replies: int | None, created: datetime) -> BusinessComment:
    return BusinessComment(
        comment_id=comment_id, video_id="v1", create_time=created, replies=replies
    )


def test_a_video_seen_for_the_first_time_is_read_whole() -> None:
    reread = plan_video(video("v1", 12), WINDOW, None, LISTED_AT)

    assert reread is not None
    assert reread.since == EPOCH
    assert reread.state is None


def test_a_new_video_without_comments_is_not_read() -> None:
    assert plan_video(video("v1", 0), WINDOW, None, LISTED_AT) is None
    assert plan_video(video("v1", None), WINDOW, None, LISTED_AT) is None


def test_a_video_created_after_the_window_is_not_read() -> None:
    created_after = video("v1", 40, created=WINDOW.end)

    assert plan_video(created_after, WINDOW, None, LISTED_AT) is None


def test_a_video_created_during_the_window_is_read() -> None:
    created_during = video("v1", 40, created=WINDOW.end - timedelta(seconds=1))

    assert plan_video(created_during, WINDOW, None, LISTED_AT) is not None


def test_an_unchanged_count_means_the_cache_is_complete() -> None:
    assert plan_video(video("v1", 7), WINDOW, state("v1", 7), LISTED_AT) is None


def test_a_grown_count_is_reread_from_shortly_before_the_newest_cached_comment() -> None:
    previous = state("v1", 7)

    reread = plan_video(video("v1", 9), WINDOW, previous, LISTED_AT)

    # ten minutes of overlap: comments in the same second as it, or published late, count
    assert reread == VideoReread(video("v1", 9), datetime(2026, 11, 9, 8, 20, tzinfo=UTC), previous)


def test_a_count_that_went_down_means_a_deletion_so_the_video_is_read_whole_again() -> None:
    reread = plan_video(video("v1", 5), WINDOW, state("v1", 7), LISTED_AT)

    assert reread is not None
    assert reread.since == EPOCH
    assert reread.state is None


def test_a_grown_count_without_a_known_newest_comment_is_read_whole() -> None:
    reread = plan_video(video("v1", 3), WINDOW, state("v1", 1, newest=None), LISTED_AT)

    assert reread is not None
    assert (reread.since, reread.state) == (EPOCH, None)


def test_a_video_another_run_read_after_our_listing_is_left_to_that_fresher_state() -> None:
    fresher = state("v1", 7, checked_at=LISTED_AT)

    assert plan_video(video("v1", 9), WINDOW, fresher, LISTED_AT) is None
    assert plan_video(video("v1", 5), WINDOW, fresher, LISTED_AT) is None


def test_reads_are_planned_heaviest_first() -> None:
    videos = [video("light", 2), video("heavy", 300), video("medium", 40), video("quiet", 0)]

    plan = plan_reads(videos, {}, WINDOW, LISTED_AT, listing_complete=True)

    assert [r.video.item_id for r in plan.rereads] == ["heavy", "medium", "light"]


def test_only_the_videos_whose_count_moved_are_reread() -> None:
    videos = [video("same", 4), video("grown", 6), video("shrunk", 1), video("new", 2)]
    states = {"same": state("same", 4), "grown": state("grown", 5), "shrunk": state("shrunk", 3)}

    plan = plan_reads(videos, states, WINDOW, LISTED_AT, listing_complete=True)

    reread = {r.video.item_id: r for r in plan.rereads}
    assert sorted(reread) == ["grown", "new", "shrunk"]
    assert reread["grown"].state == states["grown"]
    assert reread["shrunk"].state is None
    assert reread["new"].state is None


def test_cached_videos_missing_from_a_complete_listing_were_deleted() -> None:
    states = {
        "kept": state("kept", 1),
        "deleted-b": state("deleted-b", 2),
        "deleted-a": state("deleted-a", 3),
    }

    plan = plan_reads([video("kept", 1)], states, WINDOW, LISTED_AT, listing_complete=True)

    assert plan.gone_videos == ["deleted-a", "deleted-b"]
    assert plan.rereads == []


def test_an_incomplete_listing_deletes_nothing() -> None:
    states = {"kept": state("kept", 1), "unlisted": state("unlisted", 2)}

    plan = plan_reads([video("kept", 1)], states, WINDOW, LISTED_AT, listing_complete=False)

    assert plan.gone_videos == []


def test_replies_are_reread_under_parents_whose_reply_count_moved_or_that_are_new() -> None:
    at = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
    comments = [
        comment("same", 2, at),
        comment("more", 3, at),
        comment("fewer", 0, at),
        comment("new-with-replies", 1, at),
        comment("new-without", None, at),
    ]
    cached = {"same": 2, "more": 1, "fewer": 4}

    moved = parents_whose_replies_moved(comments, cached)

    assert [c.comment_id for c in moved] == ["more", "fewer", "new-with-replies"]


def test_a_count_that_grew_by_more_than_was_found_points_at_older_parents() -> None:
    previous = state("v1", 10)

    assert count_exceeds_found(video("v1", 14), previous, found=3)
    assert not count_exceeds_found(video("v1", 14), previous, found=4)


def test_older_parents_are_those_before_the_reread_whose_replies_moved_not_yet_read() -> None:
    reread = VideoReread(video("v1", 14), NEWEST_CACHED - OVERLAP, state("v1", 10))
    before = reread.since - timedelta(days=3)
    everything = [
        comment("recent", 5, reread.since),
        comment("old-moved", 2, before),
        comment("old-same", 1, before),
        comment("old-already-read", 7, before),
    ]
    cached = {"recent": 1, "old-moved": 1, "old-same": 1, "old-already-read": 3}

    older = older_parents_that_moved(everything, reread, cached, already={"old-already-read"})

    assert [c.comment_id for c in older] == ["old-moved"]
