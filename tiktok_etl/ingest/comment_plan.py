"""Which videos' comments to re-read, and how far back: the comment reader's decisions.

Pure functions over the video listing and the per-video state from the last read (see
:mod:`tiktok_etl.ingest.comments` for why there is a cache at all). They make no request
and touch no database, so every rule is testable on its own: a new video is read whole
once; an unchanged count means nothing to read; a grown count is re-read newest first,
stopping shortly before the newest comment already cached; a count that went down means
something was deleted, so the video is read whole again; a video missing from a complete
listing was deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tiktok_etl.api import BusinessComment, BusinessVideo
from tiktok_etl.ingest.window import DayWindow
from tiktok_etl.storage.comment_cache import VideoState

# a re-read starts a little before the newest comment seen: comments written in the same
# second as it, or published with a slight delay, must not be skipped
OVERLAP = timedelta(minutes=10)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# TikTok's `comments` count includes replies and comments we cannot list (hidden, under
# review, deleted a moment ago), so a complete read may return a little less: up to
# COUNT_TOLERANCE comments or COUNT_TOLERANCE_RATIO of the count, whichever is more
COUNT_TOLERANCE = 2
COUNT_TOLERANCE_RATIO = 0.02


@dataclass(frozen=True)
class VideoReread:
    """One video to read: its comments created at or after ``since``.

    Without a ``state`` the read is full: everything cached for the video is replaced.
    """

    video: BusinessVideo
    since: datetime
    state: VideoState | None


@dataclass(frozen=True)
class ReadPlan:
    """The videos to read, heaviest first, and the videos to forget."""

    rereads: list[VideoReread]
    gone_videos: list[str]


def plan_video(
    video: BusinessVideo, window: DayWindow, state: VideoState | None, listed_at: datetime
) -> VideoReread | None:
    """What to read of one video for the partition's window, or None when the cache already
    holds everything it could contribute."""
    if video.create_time >= window.end:
        return None  # cannot hold comments written before it existed
    count = video.comments or 0
    if state is None:
        # first sight of the video: its whole history, once (nothing to read if it has none)
        return None if count == 0 else VideoReread(video, EPOCH, None)
    if state.comment_count == count:
        return None  # nothing new or deleted since the last read; the cache is complete
    if state.checked_at >= listed_at:
        return None  # another run read it after our listing: its state is the fresher
    if count < state.comment_count or state.newest_comment_time is None:
        return VideoReread(video, EPOCH, None)  # something was deleted: read it all again
    return VideoReread(video, state.newest_comment_time - OVERLAP, state)


def plan_reads(
    videos: Sequence[BusinessVideo],
    states: Mapping[str, VideoState],
    window: DayWindow,
    listed_at: datetime,
    *,
    listing_complete: bool,
) -> ReadPlan:
    """The reads for one partition, and which cached videos no longer exist at TikTok.

    Only a complete listing (no rejected record) can tell that a video is gone."""
    rereads = [r for v in videos if (r := plan_video(v, window, states.get(v.item_id), listed_at))]
    # heaviest first: a video with hundreds of comments started last would be the tail
    rereads.sort(key=lambda r: r.video.comments or 0, reverse=True)
    listed = {v.item_id for v in videos}
    gone = sorted(set(states) - listed) if listing_complete else []
    return ReadPlan(rereads=rereads, gone_videos=gone)


def _replies_moved(comment: BusinessComment, cached_reply_counts: Mapping[str, int | None]) -> bool:
    return (comment.replies or 0) != (cached_reply_counts.get(comment.comment_id) or 0)


def parents_whose_replies_moved(
    comments: Iterable[BusinessComment], cached_reply_counts: Mapping[str, int | None]
) -> list[BusinessComment]:
    """Top-level comments whose reply count differs from the cached one (new ones included)."""
    return [c for c in comments if _replies_moved(c, cached_reply_counts)]


def count_exceeds_found(video: BusinessVideo, state: VideoState, found: int) -> bool:
    """Whether the video's count grew by more than the new comments and replies a partial
    re-read found: the rest must be replies to comments older than the re-read reached."""
    return (video.comments or 0) - state.comment_count > found


def older_parents_that_moved(
    everything: Iterable[BusinessComment],
    reread: VideoReread,
    cached_reply_counts: Mapping[str, int | None],
    already: Iterable[str],
) -> list[BusinessComment]:
    """Of all a video's top-level comments, those older than the re-read reached whose reply
    count moved and whose replies are not read already."""
    seen = set(already)
    return [
        c
        for c in everything
        if c.comment_id not in seen
        and c.create_time < reread.since
        and _replies_moved(c, cached_reply_counts)
    ]


def unexplained_shortfall(listed: int, found: int) -> int:
    """How many more comments the listed count promises than a full read returned, beyond
    the tolerance for hidden ones; above zero, the read is not to be trusted as complete."""
    tolerance = max(COUNT_TOLERANCE, int(listed * COUNT_TOLERANCE_RATIO))
    return max(0, listed - found - tolerance)
