"""Incremental comment state: every comment seen per account, and what was read per video.

Comments are partitioned by their own ``create_time``, but TikTok lists them per video. To
build one day's partition without re-reading every video, we keep

- ``tiktok_comment_cache``: the last payload seen for each comment (top-level and replies),
- ``tiktok_comment_video_state``: per video, the comment count at the last read, the newest
  ``create_time`` seen among its comments and replies (TikTok's clock, not ours: a re-read
  starts from there, so clock skew between us and TikTok cannot open a gap), and the time
  of that read (``checked_at``).

A day's partition is then a query over the cache, after re-reading only the videos whose
count moved. Cache and state change in one transaction, so a crash between reading and
writing the partition loses nothing. The tables are created by migration
``0004_comment_cache``.

Every value is cleaned as :mod:`tiktok_etl.storage.coercion` documents for the raw tables
(text, ``jsonb`` payloads, ``bigint`` counts), so no comment TikTok can send fails the
transaction and blocks the state of its video.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from tiktok_etl.storage.coercion import clean_bigint, clean_text, to_json_text
from tiktok_etl.storage.locks import advisory_lock

_PER_VIDEO_TABLES = ("tiktok_comment_cache", "tiktok_comment_video_state", "tiktok_video_links")


@dataclass(frozen=True)
class VideoState:
    video_id: str
    comment_count: int
    newest_comment_time: datetime | None
    checked_at: datetime


@dataclass(frozen=True)
class CachedComment:
    comment_id: str
    video_id: str
    parent_comment_id: str | None
    create_time: datetime
    reply_count: int | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class VideoRead:
    """The result of re-reading one video's comments created at or after ``since``.

    ``replaced_parents`` are the top-level comments whose replies were re-read in full;
    cached replies of those parents that the read did not return are gone at TikTok. A
    ``full`` read replaces everything cached for the video; a ``merge_only`` one (a read
    that may be incomplete) removes nothing and only adds or refreshes what it found.
    """

    video_id: str
    since: datetime
    comments: Sequence[CachedComment]
    replaced_parents: frozenset[str]
    comment_count: int
    newest_comment_time: datetime | None
    full: bool = False
    merge_only: bool = False


class CommentCache:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @contextmanager
    def reading(self, account_key: str) -> Iterator[None]:
        """Hold the account's comment-reading lock: backfill runs of one account may run at
        once, and without it each would read every video's history for itself."""
        with advisory_lock(self.engine, f"tiktok_etl:comments:{account_key}"):
            yield

    def states(self, account_key: str) -> dict[str, VideoState]:
        with self.engine.connect() as conn:
            rows: Any = conn.execute(
                sa.text(
                    "SELECT video_id, comment_count, newest_comment_time, checked_at "
                    "FROM tiktok_comment_video_state WHERE account_key = :a"
                ),
                {"a": account_key},
            )
            return {r.video_id: VideoState(*r) for r in rows}

    def parents(self, account_key: str, video_id: str) -> dict[str, int | None]:
        """Reply counts of the cached top-level comments of a video."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT comment_id, reply_count FROM tiktok_comment_cache "
                    "WHERE account_key = :a AND video_id = :v AND parent_comment_id IS NULL"
                ),
                {"a": account_key, "v": video_id},
            )
            return {r.comment_id: r.reply_count for r in rows}

    def apply(
        self,
        account_key: str,
        reads: Iterable[VideoRead],
        checked_at: datetime,
        gone_videos: Sequence[str] = (),
        links: Mapping[str, str] | None = None,
    ) -> None:
        """Store re-read videos (replace their cached comments in the re-read range, move their
        state) and forget videos that no longer exist at TikTok, in one transaction.

        ``links`` (video id -> share URL, for every listed video) lets a comment on a video of
        any age link to it without that video's own partition being materialized."""
        with self.engine.begin() as conn:
            if links:
                conn.execute(
                    sa.text(
                        "INSERT INTO tiktok_video_links "
                        "(account_key, video_id, share_url, seen_at) "
                        "VALUES (:a, :v, :u, :at) ON CONFLICT (account_key, video_id) "
                        "DO UPDATE SET share_url = EXCLUDED.share_url, seen_at = EXCLUDED.seen_at"
                    ),
                    [
                        {
                            "a": account_key,
                            "v": clean_text(vid),
                            "u": clean_text(url),
                            "at": checked_at,
                        }
                        for vid, url in links.items()
                    ],
                )
            if gone_videos:
                for table in _PER_VIDEO_TABLES:
                    conn.execute(
                        sa.text(
                            f"DELETE FROM {table} WHERE account_key = :a AND video_id = ANY(:v)"
                        ),
                        {"a": account_key, "v": [clean_text(v) for v in gone_videos]},
                    )
            for read in reads:
                if not read.merge_only:
                    self._clear_reread_range(conn, account_key, read)
                if read.comments:
                    conn.execute(
                        sa.text(
                            "INSERT INTO tiktok_comment_cache (account_key, comment_id, video_id, "
                            "parent_comment_id, create_time, reply_count, payload, seen_at) VALUES "
                            "(:a, :c, :v, :p, :t, :r, CAST(:payload AS jsonb), :seen) "
                            "ON CONFLICT (account_key, comment_id) DO UPDATE SET "
                            "video_id = EXCLUDED.video_id, "
                            "parent_comment_id = EXCLUDED.parent_comment_id, "
                            "create_time = EXCLUDED.create_time, "
                            "reply_count = EXCLUDED.reply_count, payload = EXCLUDED.payload, "
                            "seen_at = EXCLUDED.seen_at"
                        ),
                        [
                            {
                                "a": account_key,
                                "c": clean_text(c.comment_id),
                                "v": clean_text(c.video_id),
                                "p": None
                                if c.parent_comment_id is None
                                else clean_text(c.parent_comment_id),
                                "t": c.create_time,
                                "r": None if c.reply_count is None else clean_bigint(c.reply_count),
                                "payload": to_json_text(c.payload, lenient=True),
                                "seen": checked_at,
                            }
                            for c in read.comments
                        ],
                    )
                conn.execute(
                    sa.text(
                        "INSERT INTO tiktok_comment_video_state "
                        "(account_key, video_id, comment_count, newest_comment_time, checked_at) "
                        "VALUES (:a, :v, :n, :newest, :at) ON CONFLICT (account_key, video_id) "
                        "DO UPDATE SET comment_count = EXCLUDED.comment_count, "
                        "newest_comment_time = EXCLUDED.newest_comment_time, "
                        "checked_at = EXCLUDED.checked_at"
                    ),
                    {
                        "a": account_key,
                        "v": clean_text(read.video_id),
                        # a count beyond bigint: 0, so the state still advances
                        "n": clean_bigint(read.comment_count) or 0,
                        "newest": read.newest_comment_time,
                        "at": checked_at,
                    },
                )

    @staticmethod
    def _clear_reread_range(conn: sa.Connection, account_key: str, read: VideoRead) -> None:
        """Remove what ``read`` re-read from the cache; it is about to be inserted again."""
        conn.execute(
            sa.text(
                "DELETE FROM tiktok_comment_cache WHERE account_key = :a AND video_id = :v "
                "AND (:full OR (parent_comment_id IS NULL AND create_time >= :s) "
                "OR parent_comment_id = ANY(:parents))"
            ),
            {
                "a": account_key,
                "v": clean_text(read.video_id),
                "s": read.since,
                "full": read.full,
                "parents": sorted(clean_text(p) for p in read.replaced_parents),
            },
        )

    def comments_between(
        self, account_key: str, start: datetime, end: datetime
    ) -> list[CachedComment]:
        with self.engine.connect() as conn:
            rows: Any = conn.execute(
                sa.text(
                    "SELECT comment_id, video_id, parent_comment_id, create_time, reply_count, "
                    "payload FROM tiktok_comment_cache WHERE account_key = :a "
                    "AND create_time >= :s AND create_time < :e ORDER BY create_time, comment_id"
                ),
                {"a": account_key, "s": start, "e": end},
            )
            return [CachedComment(*r) for r in rows]

    def days_out_of_sync(self, account_key: str, since: date | None = None) -> list[date]:
        """UTC days (from ``since``) already materialized whose ``tiktok_comments`` rows differ
        from the cache, or whose ``sl_mentions`` hold a soft-deleted mention of a cached
        comment: the partitions a re-materialization would change."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "WITH cached AS (SELECT comment_id, "
                    "(create_time AT TIME ZONE 'UTC')::date AS day FROM tiktok_comment_cache "
                    "WHERE account_key = :a), "
                    "landed AS (SELECT comment_id, date AS day FROM tiktok_comments "
                    "WHERE account_key = :a), "
                    "differ AS (SELECT day FROM cached FULL OUTER JOIN landed "
                    "USING (comment_id, day) "
                    "WHERE cached.comment_id IS NULL OR landed.comment_id IS NULL), "
                    "hidden AS (SELECT m.date AS day FROM sl_mentions m JOIN cached c "
                    "ON m.external_id = c.comment_id AND m.date = c.day "
                    "WHERE m.account_key = :a AND m.deleted_at IS NOT NULL) "
                    "SELECT DISTINCT day FROM "
                    "(SELECT day FROM differ UNION SELECT day FROM hidden) d "
                    # only partitions written before: a day never materialized lost nothing
                    "WHERE day IN (SELECT date FROM tiktok_comments WHERE account_key = :a "
                    "UNION SELECT date FROM sl_mentions WHERE account_key = :a) "
                    "AND (CAST(:since AS date) IS NULL OR day >= CAST(:since AS date)) "
                    "ORDER BY day"
                ),
                {"a": account_key, "since": since},
            )
            return [r.day for r in rows]

    def forget_account(self, account_key: str) -> None:
        with self.engine.begin() as conn:
            for table in _PER_VIDEO_TABLES:
                conn.execute(
                    sa.text(f"DELETE FROM {table} WHERE account_key = :a"), {"a": account_key}
                )
