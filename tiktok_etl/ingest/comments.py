"""``tiktok_comments``: comments and replies written in one UTC day, on any of the account's videos.

TikTok lists comments per video, newest first, and replies per comment. Reading every
video's comments for every partition would cost pages proportional to the whole history, so
this keeps a cache of every comment seen and per-video state (see
:mod:`tiktok_etl.storage.comment_cache`), and builds a day's partition from the cache after

- reading a video's whole history the first time it is seen (once per video), and
- re-reading a video only when its comment count (top-level plus replies) moved: newest
  first, stopping shortly before the previous read, plus the replies of the comments whose
  reply count moved.

So the pages fetched stay close to the pages of genuinely new comments. When a count moved
by more than the new comments and replies found, the difference must be replies to comments
older than the re-read reached: only then are all of the video's top-level comments listed
to find which parents moved. Videos missing from a complete listing are forgotten.

A listing that cannot be read to its true end raises `IncompleteListing` (naming the
account) before anything is written: no comment is forgotten and no state moves on such a
read. A full read that returns clearly fewer comments than the video's count (see
:func:`~tiktok_etl.ingest.comment_plan.unexplained_shortfall`) is read again; if it stays
short, what it found is added to the cache and nothing cached is removed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from tiktok_etl.api import BusinessClient, BusinessComment, IncompleteListing, RejectedRecord
from tiktok_etl.ingest.comment_plan import (
    EPOCH,
    VideoReread,
    count_exceeds_found,
    older_parents_that_moved,
    parents_whose_replies_moved,
    plan_reads,
    unexplained_shortfall,
)
from tiktok_etl.ingest.fetched import FetchOutcome
from tiktok_etl.ingest.rows import comment_row
from tiktok_etl.ingest.sources import AccountSource
from tiktok_etl.ingest.window import DayWindow
from tiktok_etl.storage.comment_cache import CachedComment, CommentCache, VideoRead

log = logging.getLogger(__name__)

DISPLAY_REASON = (
    "Display API (Login Kit) accounts have no comment endpoint; comments are available "
    "for Business accounts only. This partition is empty by design."
)


def fetch_comments(
    source: AccountSource,
    window: DayWindow,
    cache: CommentCache,
    now: datetime,
    workers: int,
) -> FetchOutcome:
    key = source.account.account_key
    if source.business is None:
        return FetchOutcome(notes={"empty_reason": DISPLAY_REASON})
    try:
        return _fetch_comments(source, window, cache, now, workers)
    except IncompleteListing as exc:
        raise exc.for_account(key) from exc


def _fetch_comments(
    source: AccountSource,
    window: DayWindow,
    cache: CommentCache,
    now: datetime,
    workers: int,
) -> FetchOutcome:
    key = source.account.account_key
    assert source.business is not None
    client = source.business
    with cache.reading(key):
        listing = source.business_video_listing()
        rejects: list[RejectedRecord] = list(listing.rejects)
        states = cache.states(key)
        plan = plan_reads(
            listing.items,
            states,
            window,
            source.listed_at or now,
            listing_complete=not listing.rejects,
        )
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            results = list(pool.map(lambda r: _reread(client, cache, key, r), plan.rereads))
        reads = [read for read, _ in results]
        for _, bad in results:
            rejects.extend(bad)
        # a video missing from a complete listing was deleted: its comments go with it
        gone = plan.gone_videos
        links = {v.item_id: v.share_url for v in listing.items if v.share_url}
        cache.apply(key, reads, checked_at=now, gone_videos=gone, links=links)

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
            "videos_reread": len(plan.rereads),
            "videos_deleted": len(gone),
        },
    )


def _reread(
    client: BusinessClient, cache: CommentCache, account_key: str, reread: VideoReread
) -> tuple[VideoRead, list[RejectedRecord]]:
    video_id = reread.video.item_id
    count = reread.video.comments or 0
    top = client.comments_since(video_id, reread.since)
    rejects = list(top.rejects)
    comments = [_cached(c) for c in top.items]
    if reread.state is None:
        return full_read(client, video_id, count, top.items, rejects), rejects

    cached_parents = cache.parents(account_key, video_id)
    moved = parents_whose_replies_moved(top.items, cached_parents)
    new_replies = _read_replies(client, video_id, moved, rejects)
    replaced = {c.comment_id for c in moved}
    found = sum(1 for c in comments if c.comment_id not in cached_parents) + len(new_replies)
    if count_exceeds_found(reread.video, reread.state, found):
        # the rest must be replies to comments older than this read reached
        everything = client.comments_since(video_id, EPOCH)
        rejects.extend(everything.rejects)
        older = older_parents_that_moved(everything.items, reread, cached_parents, replaced)
        new_replies += _read_replies(client, video_id, older, rejects)
        replaced |= {c.comment_id for c in older}
    read = VideoRead(
        video_id=video_id,
        since=reread.since,
        comments=_unique(comments + new_replies),
        replaced_parents=frozenset(replaced),
        comment_count=count,
        newest_comment_time=_newest(comments + new_replies, reread.state.newest_comment_time),
    )
    return read, rejects


def full_read(
    client: BusinessClient,
    video_id: str,
    count: int,
    top: Sequence[BusinessComment],
    rejects: list[RejectedRecord],
) -> VideoRead:
    """Every top-level comment and every reply of a video, replacing what was cached.

    A read clearly short of the video's count is read once more; one that stays short only
    adds what it found (a count is evidence that comments exist, so none is removed)."""
    comments = [_cached(c) for c in top] + _read_replies(client, video_id, top, rejects)
    short = unexplained_shortfall(count, len(_unique(comments)))
    if short:
        log.warning(
            "video %s: count %d but a full read found %d; reading it again",
            video_id, count, len(comments),
        )  # fmt: skip
        again = client.comments_since(video_id, EPOCH)
        rejects.extend(again.rejects)
        second = [_cached(c) for c in again.items]
        second += _read_replies(client, video_id, again.items, rejects)
        if len(_unique(second)) >= len(_unique(comments)):
            top, comments = again.items, second
        short = unexplained_shortfall(count, len(_unique(comments)))
        if short:
            log.warning(
                "video %s: still %d short of its count after a second full read; "
                "keeping every cached comment and adding the %d found",
                video_id, short, len(comments),
            )  # fmt: skip
    return VideoRead(
        video_id=video_id,
        since=EPOCH,
        comments=_unique(comments),
        replaced_parents=frozenset() if short else frozenset(c.comment_id for c in top),
        comment_count=count,
        newest_comment_time=_newest(comments, None),
        full=not short,
        merge_only=bool(short),
    )


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
        # every reply of the parent: the parent is marked replaced, so its cached replies go
        result = client.replies_since(video_id, parent.comment_id, EPOCH)
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


def _newest(comments: list[CachedComment], previous: datetime | None) -> datetime | None:
    times = [c.create_time for c in comments]
    if previous is not None:
        times.append(previous)
    return max(times, default=None)


def _unique(comments: list[CachedComment]) -> list[CachedComment]:
    return list({c.comment_id: c for c in comments}.values())
