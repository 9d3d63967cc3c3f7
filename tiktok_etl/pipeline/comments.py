"""``tiktok_comments``: comments and replies written in one UTC day, on any of the account's videos.

TikTok lists comments per video, newest first. Reading every video's comments for every
partition would cost pages proportional to the whole history, so this keeps per-video state
(see :mod:`tiktok_etl.storage.comment_cache`) and re-reads a video only when

- its comment count moved since the last read, or
- the cache does not yet reach back to the partition's day (first read, or a backfill).

A re-read goes newest-first and stops at ``since`` (the start of the day, or shortly before
the previous read when the cache already covers the day), so the pages fetched stay close to
the pages of genuinely new comments. Replies are re-read for the parents whose reply count
moved. When a video's count moved by more than the new comments and replies found, the
difference must be replies to comments older than ``since``: only then are all of the
video's top-level comments listed to find which parents moved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tiktok_etl.api import BusinessClient, BusinessComment, BusinessVideo, RejectedRecord
from tiktok_etl.pipeline.outcome import FetchOutcome
from tiktok_etl.pipeline.rows import comment_row
from tiktok_etl.pipeline.sources import AccountSource
from tiktok_etl.pipeline.window import DayWindow
from tiktok_etl.storage.comment_cache import CachedComment, CommentCache, VideoRead, VideoState

log = logging.getLogger(__name__)

# comments already cached may be re-listed slightly before the previous read: clock skew
# between TikTok's timestamps and ours must not open a gap
_OVERLAP = timedelta(minutes=10)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

DISPLAY_REASON = (
    "Display API (Login Kit) accounts have no comment endpoint; comments are available "
    "for Business accounts only. This partition is empty by design."
)


@dataclass(frozen=True)
class _Plan:
    video: BusinessVideo
    since: datetime
    state: VideoState | None


def fetch_comments(
    source: AccountSource,
    window: DayWindow,
    cache: CommentCache,
    now: datetime,
    workers: int = 8,
) -> FetchOutcome:
    key = source.account.account_key
    if source.business is None:
        return FetchOutcome(notes={"empty_reason": DISPLAY_REASON})
    client = source.business
    listing = client.iter_all_videos()
    rejects: list[RejectedRecord] = list(listing.rejects)
    states = cache.states(key)
    plans = [p for v in listing.items if (p := _plan(v, window, states.get(v.item_id)))]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(lambda p: _reread(client, cache, key, p), plans))
    reads = [read for read, _ in results]
    for _, bad in results:
        rejects.extend(bad)
    # a video missing from a complete listing was deleted: its comments go with it
    listed = {v.item_id for v in listing.items}
    gone = [] if listing.rejects else sorted(set(states) - listed)
    cache.apply(key, reads, checked_at=now, gone_videos=gone)

    rows = []
    for cached in cache.comments_between(key, window.start, window.end):
        comment = BusinessComment.from_payload(cached.payload)
        row = comment_row(key, window.day, comment, now)
        row["parent_comment_id"] = cached.parent_comment_id
        rows.append(row)
    return FetchOutcome(
        rows=rows,
        rejects=rejects,
        notes={
            "videos_listed": len(listing.items),
            "videos_reread": len(plans),
            "videos_deleted": len(gone),
        },
    )


def _plan(video: BusinessVideo, window: DayWindow, state: VideoState | None) -> _Plan | None:
    if video.create_time >= window.end:
        return None  # cannot hold comments written before it existed
    count = video.comments or 0
    if count == 0 and (state is None or state.comment_count == 0):
        return None  # no comments at all: nothing to read or to forget
    if state is None or state.covered_since > window.start:
        return _Plan(video, window.start, state)
    if state.comment_count == count:
        return None  # nothing new or deleted since the last read; the cache is complete
    return _Plan(video, max(window.start, state.checked_at - _OVERLAP), state)


def _reread(
    client: BusinessClient, cache: CommentCache, account_key: str, plan: _Plan
) -> tuple[VideoRead, list[RejectedRecord]]:
    video_id = plan.video.item_id
    top = client.comments_since(video_id, plan.since)
    rejects = list(top.rejects)
    cached_parents = cache.parents(account_key, video_id) if plan.state else {}
    comments = [_cached(c) for c in top.items]
    moved = [c for c in top.items if (c.replies or 0) != cached_parents.get(c.comment_id, 0)]
    new_replies = _read_replies(client, video_id, moved, rejects)
    replaced = {c.comment_id for c in moved}
    comments += new_replies

    count = plan.video.comments or 0
    if plan.state is not None and count > plan.state.comment_count:
        found = sum(1 for c in comments if c.comment_id not in cached_parents)
        found_replies = len(new_replies)
        if count - plan.state.comment_count > found + found_replies:
            older = _older_parents_that_moved(client, plan, cached_parents, replaced, rejects)
            comments += _read_replies(client, video_id, older, rejects)
            replaced |= {c.comment_id for c in older}

    covered = plan.since
    if plan.state is not None and plan.since <= plan.state.checked_at:
        covered = min(plan.since, plan.state.covered_since)
    read = VideoRead(
        video_id=video_id,
        since=plan.since,
        comments=_unique(comments),
        replaced_parents=frozenset(replaced),
        comment_count=count,
        covered_since=covered,
    )
    return read, rejects


def _older_parents_that_moved(
    client: BusinessClient,
    plan: _Plan,
    cached_parents: dict[str, int | None],
    already: set[str],
    rejects: list[RejectedRecord],
) -> list[BusinessComment]:
    everything = client.comments_since(plan.video.item_id, _EPOCH)
    rejects.extend(everything.rejects)
    return [
        c
        for c in everything.items
        if c.comment_id not in already
        and c.create_time < plan.since
        and (c.replies or 0) != (cached_parents.get(c.comment_id) or 0)
    ]


def _read_replies(
    client: BusinessClient,
    video_id: str,
    parents: Sequence[BusinessComment],
    rejects: list[RejectedRecord],
) -> list[CachedComment]:
    out: list[CachedComment] = []
    for parent in parents:
        if not parent.replies:
            continue
        result = client.replies_since(video_id, parent.comment_id, parent.create_time)
        rejects.extend(result.rejects)
        # the reply list is scoped to one parent, whether or not each reply names it
        out.extend(_cached(reply, parent_id=parent.comment_id) for reply in result.items)
    return out


def _cached(comment: BusinessComment, parent_id: str | None = None) -> CachedComment:
    return CachedComment(
        comment_id=comment.comment_id,
        video_id=comment.video_id,
        parent_comment_id=comment.parent_comment_id or parent_id,
        create_time=comment.create_time,
        reply_count=comment.replies,
        payload=comment.raw,
    )


def _unique(comments: list[CachedComment]) -> list[CachedComment]:
    return list({c.comment_id: c for c in comments}.values())
