"""``tiktok_posts``: every video we asked TikTok to post, and the shared posting limits.

A row is written *before* the init request (status ``INITIALIZING``), so a crash between
TikTok creating a ``publish_id`` and our commit still leaves a trace that counts towards
the daily limit. The row then follows the post: its ``publish_id``, the bytes TikTok
acknowledged, each status from ``status/fetch`` and, at the end, the public post ids.

Two limits are enforced here, because every process must see the same counts:

- :class:`PostInitLimiter`: init requests per token (account) in a sliding minute (TikTok
  allows 6), kept in ``tiktok_post_inits`` and taken under a per-account advisory lock. It
  waits (on an injected clock) up to a cap, then refuses naming when to retry.
- :meth:`PostStore.posts_since`: posts per creator in the last 24 hours (about 15), counted
  from ``tiktok_posts``; failed posts do not count.

Time comes from the caller's clock (``tiktok_etl.api.Clock``), so tests control it; workers
on different machines should run NTP, as for token expiry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tiktok_etl.api.clock import Clock
from tiktok_etl.api.errors import PostingLimited
from tiktok_etl.storage.tables import TableSpec, col

POSTS = TableSpec(
    name="tiktok_posts",
    columns=(
        col("post_key", "bigint", "our id of the post attempt", nullable=False),
        col("account_key", "text", "the account that posts", nullable=False),
        col("publish_id", "text", "TikTok's id of the publishing task (after init)"),
        col("mode", "text", "`direct` (posted) or `inbox` (a draft the creator finishes)",
            nullable=False),
        col("source", "text", "`FILE_UPLOAD` or `PULL_FROM_URL`", nullable=False),
        col("title", "text", "the post's title (direct posts)"),
        col("privacy", "text", "the privacy level asked for (direct posts)"),
        col("file_name", "text", "the uploaded file's name, or the pulled URL"),
        col("video_size", "bigint", "bytes of the video (FILE_UPLOAD)"),
        col("chunk_count", "integer", "chunks of the upload (FILE_UPLOAD)"),
        col("status", "text", "INITIALIZING, then TikTok's status: PROCESSING_UPLOAD, "
            "PROCESSING_DOWNLOAD, SEND_TO_USER_INBOX, PUBLISH_COMPLETE or FAILED",
            nullable=False),
        col("fail_reason", "text", "why it failed (TikTok's `fail_reason` or our refusal)"),
        col("uploaded_bytes", "bigint", "bytes TikTok acknowledged", nullable=False),
        col("post_ids", "text[]", "the public post ids, once published (the video ids in "
            "`tiktok_videos`)", nullable=False),
        col("created_at", "timestamptz", "when the attempt started", nullable=False),
        col("updated_at", "timestamptz", "when the row last changed", nullable=False),
    ),
    key=("post_key",),
    partition_columns=("account_key",),
)  # fmt: skip

_COLUMNS = ", ".join(POSTS.column_names)


@dataclass(frozen=True)
class PostRecord:
    post_key: int
    account_key: str
    publish_id: str | None
    mode: str
    source: str
    title: str | None
    privacy: str | None
    file_name: str | None
    video_size: int | None
    chunk_count: int | None
    status: str
    fail_reason: str | None
    uploaded_bytes: int
    post_ids: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> PostRecord:
        values = dict(row._mapping)
        values["post_ids"] = tuple(values["post_ids"] or ())
        return cls(**values)


class PostStore:
    """Reads and writes ``tiktok_posts``; every statement is parameterized."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def start(
        self,
        *,
        account_key: str,
        mode: str,
        source: str,
        title: str | None,
        privacy: str | None,
        file_name: str | None,
        video_size: int | None,
        chunk_count: int | None,
        now: datetime,
    ) -> int:
        """Record the intent to post, before the init request; the new row's ``post_key``."""
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "INSERT INTO tiktok_posts (account_key, mode, source, title, privacy, "
                        "file_name, video_size, chunk_count, status, created_at, updated_at) "
                        "VALUES (:account_key, :mode, :source, :title, :privacy, :file_name, "
                        ":video_size, :chunk_count, 'INITIALIZING', :now, :now) "
                        "RETURNING post_key"
                    ),
                    {
                        "account_key": account_key,
                        "mode": mode,
                        "source": source,
                        "title": title,
                        "privacy": privacy,
                        "file_name": file_name,
                        "video_size": video_size,
                        "chunk_count": chunk_count,
                        "now": now,
                    },
                ).scalar_one()
            )

    def update(self, post_key: int, now: datetime, **changes: Any) -> None:
        """Set some of ``publish_id, status, fail_reason, uploaded_bytes, post_ids``."""
        allowed = {"publish_id", "status", "fail_reason", "uploaded_bytes", "post_ids"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        if "post_ids" in changes:
            changes["post_ids"] = list(changes["post_ids"])
        sets = ", ".join(f"{name} = :{name}" for name in changes)
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(f"UPDATE tiktok_posts SET {sets}, updated_at = :now WHERE post_key = :key"),
                {**changes, "now": now, "key": post_key},
            )

    def get(self, post_key: int) -> PostRecord | None:
        return self._one("post_key = :value", post_key)

    def by_publish_id(self, publish_id: str) -> PostRecord | None:
        return self._one("publish_id = :value", publish_id)

    def _one(self, where: str, value: Any) -> PostRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text(f"SELECT {_COLUMNS} FROM tiktok_posts WHERE {where}"), {"value": value}
            ).one_or_none()
        return PostRecord.from_row(row) if row is not None else None

    def recent(self, account_key: str | None = None, limit: int = 20) -> Sequence[PostRecord]:
        """The latest posts, newest first, of one account or all."""
        where = "WHERE account_key = :account" if account_key else ""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT {_COLUMNS} FROM tiktok_posts {where} "
                    "ORDER BY created_at DESC, post_key DESC LIMIT :limit"
                ),
                {"account": account_key, "limit": limit},
            ).all()
        return [PostRecord.from_row(row) for row in rows]

    def posts_since(self, account_key: str, since: datetime) -> tuple[int, datetime | None]:
        """Posts of the account started since ``since`` that did not fail, and the oldest one's
        time (when the count goes down)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT count(*), min(created_at) FROM tiktok_posts "
                    "WHERE account_key = :account AND created_at > :since AND status <> 'FAILED'"
                ),
                {"account": account_key, "since": since},
            ).one()
        return int(row[0]), row[1]


class PostInitLimiter:
    """At most ``limit`` init requests per account in any ``window``, for every process.

    ``acquire`` takes a slot (recording the init before it is sent) or waits for the oldest
    one to leave the window, on ``clock``; if the wait would pass ``max_wait`` in total it
    raises :class:`PostingLimited` naming the time to retry at.
    """

    def __init__(
        self,
        engine: sa.Engine,
        clock: Clock,
        *,
        limit: int = 6,
        window_seconds: float = 60.0,
        max_wait: float = 120.0,
    ) -> None:
        if limit < 1 or window_seconds <= 0 or max_wait < 0:
            raise ValueError("limit must be >= 1, window > 0, max_wait >= 0")
        self.engine = engine
        self.clock = clock
        self.limit = limit
        self.window = timedelta(seconds=window_seconds)
        self.max_wait = max_wait

    def acquire(self, account_key: str) -> float:
        """Take an init slot for the account; the seconds waited for it."""
        waited = 0.0
        while True:
            wait = self._try(account_key)
            if wait is None:
                return waited
            if waited + wait > self.max_wait:
                retry_at = self.clock.now() + timedelta(seconds=wait)
                raise PostingLimited(
                    f"account {account_key}: {self.limit} video init requests per "
                    f"{self.window.total_seconds():g} s are spent (TikTok's limit per token); "
                    f"waited {waited:.0f} s of the {self.max_wait:g} s cap "
                    f"(TIKTOK_ETL_POSTING_MAX_WAIT_SECONDS); retry after "
                    f"{retry_at:%Y-%m-%d %H:%M:%S} UTC",
                    code="rate_limit_exceeded",
                    retry_at=retry_at,
                )
            self.clock.sleep(wait)
            waited += wait

    def _try(self, account_key: str) -> float | None:
        now = self.clock.now()
        start = now - self.window
        with self.engine.begin() as conn:
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"),
                {"name": f"tiktok_post_inits:{account_key}"},
            )
            conn.execute(
                sa.text(
                    "DELETE FROM tiktok_post_inits WHERE account_key = :account "
                    "AND sent_at <= :start"
                ),
                {"account": account_key, "start": start},
            )
            found: Any = conn.execute(
                sa.text(
                    "SELECT count(*), min(sent_at) FROM tiktok_post_inits "
                    "WHERE account_key = :account AND sent_at > :start"
                ),
                {"account": account_key, "start": start},
            ).one()
            count, oldest = found
            if count < self.limit:
                conn.execute(
                    sa.text("INSERT INTO tiktok_post_inits (account_key, sent_at) VALUES (:a, :t)"),
                    {"a": account_key, "t": now},
                )
                return None
        return max((oldest + self.window - now).total_seconds(), 1e-3)
