"""Rebuild an account's comment cache from a full read: the repair after a bad read.

The incremental reader (:mod:`tiktok_etl.ingest.comments`) trusts the per-video state: a
video whose count did not move is not read again. If an earlier read was recorded as
complete when it was not (a listing that stalled before this project refused such reads,
or a cache edited by hand), the comments it missed stay missing. A resync reads every
video of the account in full, replaces the cache and the state with what it found, and
reports the UTC days whose partitions no longer match the cache, for the Dagster layer to
re-materialize. It writes no partition itself and, like every read, infers nothing from
an incomplete listing: `IncompleteListing` propagates and the cache is left as it was.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime

from tiktok_etl.api import BusinessClient, BusinessVideo, IncompleteListing, RejectedRecord
from tiktok_etl.ingest.comment_plan import EPOCH
from tiktok_etl.ingest.comments import full_read
from tiktok_etl.ingest.sources import AccountSource
from tiktok_etl.storage.comment_cache import CommentCache, VideoRead


@dataclass(frozen=True)
class ResyncReport:
    """What a resync read, and the days whose partitions must be written again."""

    account_key: str
    videos_read: int
    comments_cached: int
    videos_forgotten: int
    days: list[date] = field(default_factory=list)
    rejected: int = 0


def resync_comments(
    source: AccountSource,
    cache: CommentCache,
    now: datetime,
    workers: int,
    since: date | None = None,
) -> ResyncReport:
    """Read every video of the account in full and make the cache exactly that read.

    ``since`` limits the reported days (the partitions to re-materialize), not the read:
    a video of any age can hold comments written on any later day."""
    key = source.account.account_key
    if source.business is None:  # Display accounts have no comments to resync
        return ResyncReport(key, 0, 0, 0)
    client = source.business
    try:
        with cache.reading(key):
            listing = source.business_video_listing()
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                results = list(pool.map(lambda v: _read_whole(client, v), listing.items))
            reads = [read for read, _ in results]
            states = cache.states(key)
            # only a listing without rejected records can tell that a video is gone
            listed = {v.item_id for v in listing.items}
            gone = [] if listing.rejects else sorted(set(states) - listed)
            links = {v.item_id: v.share_url for v in listing.items if v.share_url}
            cache.apply(key, reads, checked_at=now, gone_videos=gone, links=links)
    except IncompleteListing as exc:
        raise exc.for_account(key) from exc
    return ResyncReport(
        account_key=key,
        videos_read=len(reads),
        comments_cached=sum(len(read.comments) for read in reads),
        videos_forgotten=len(gone),
        days=cache.days_out_of_sync(key, since),
        rejected=len(listing.rejects) + sum(len(bad) for _, bad in results),
    )


def _read_whole(
    client: BusinessClient, video: BusinessVideo
) -> tuple[VideoRead, list[RejectedRecord]]:
    count = video.comments or 0
    rejects: list[RejectedRecord] = []
    if count == 0:
        empty = VideoRead(video.item_id, EPOCH, [], frozenset(), 0, None, full=True)
        return empty, rejects
    top = client.comments_since(video.item_id, EPOCH)
    rejects.extend(top.rejects)
    return full_read(client, video.item_id, count, top.items, rejects), rejects
