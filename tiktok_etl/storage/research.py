"""Research API state in PostgreSQL: listening queries, the shared daily quota, raw tables.

- ``tiktok_listening_queries``: the registry of listening queries, source of truth for the
  Dagster ``query`` partitions (like ``tiktok_accounts`` for accounts).
- ``tiktok_research_quota``: one row per UTC day. Every process reserves a request with one
  atomic ``UPDATE ... WHERE requests < limit AND records < limit`` and adds the records
  TikTok returned, so the 1,000 requests / 100,000 records a day are shared exactly.
- ``tiktok_research_videos`` / ``tiktok_research_comments``: raw, lossless, written per
  partition like the account tables. Their ``account_key`` is the query's storage key
  ``query.<key>``: account keys cannot hold a dot, so a query's partitions (and Parquet
  paths, rejects, locks) never collide with an account's.

Migration ``0011_research`` creates all of them. SQL is parameterized and unqualified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from tiktok_etl.api.errors import ResearchQuotaExhausted
from tiktok_etl.api.research import reset_text
from tiktok_etl.storage.accounts import ACCOUNT_KEY_PATTERN
from tiktok_etl.storage.errors import AccountExists, AccountNotFound, InvalidAccountKey
from tiktok_etl.storage.tables import TableSpec, col

QUERY_PREFIX = "query."

_PARTITION = (
    col("account_key", "text", "the listening query's storage key, `query.<key>` (partition key)",
        nullable=False),
    col("date", "date", "the UTC day the video was created (partition key)", nullable=False),
    col("query_key", "text", "the listening query", nullable=False),
)  # fmt: skip
_FETCHED_AT = col("fetched_at", "timestamptz", "when the connector read the row from TikTok",
                  nullable=False)  # fmt: skip
_RAW = col("raw", "jsonb", "the record exactly as TikTok sent it", nullable=False)

RESEARCH_VIDEOS = TableSpec(
    name="tiktok_research_videos",
    columns=(
        *_PARTITION,
        col("video_id", "text", "TikTok's video id (sent as a JSON number)", nullable=False),
        col("create_time", "timestamptz", "when the video was posted (UTC)", nullable=False),
        col("username", "text", "the author's username"),
        col("region_code", "text", "the author's region (two-letter code)"),
        col("description", "text", "the video description"),
        col("hashtag_names", "text[]", "hashtags of the video, without `#`"),
        col("like_count", "bigint", "likes when read"),
        col("comment_count", "bigint", "comments when read"),
        col("share_count", "bigint", "shares when read"),
        col("view_count", "bigint", "views when read"),
        col("duration", "double precision", "length in seconds"),
        _FETCHED_AT,
        _RAW,
    ),
    key=("account_key", "date", "video_id"),
)

RESEARCH_COMMENTS = TableSpec(
    name="tiktok_research_comments",
    columns=(
        *_PARTITION,
        col("comment_id", "text", "TikTok's comment id (sent as a JSON number)", nullable=False),
        col("video_id", "text", "the matched video commented on", nullable=False),
        col("parent_comment_id", "text", "a reply's parent comment; null for top-level comments"),
        col("create_time", "timestamptz", "when the comment was posted (UTC)", nullable=False),
        col("text", "text", "the comment text"),
        col("like_count", "bigint", "likes when read"),
        col("reply_count", "bigint", "replies when read"),
        _FETCHED_AT,
        _RAW,
    ),
    key=("account_key", "date", "comment_id"),
)

RESEARCH_TABLES: tuple[TableSpec, ...] = (RESEARCH_VIDEOS, RESEARCH_COMMENTS)
# connector state the migration creates besides the specs
RESEARCH_STATE_TABLES = frozenset({"tiktok_listening_queries", "tiktok_research_quota"})


def storage_key(query_key: str) -> str:
    """The partition key a query's rows carry in ``account_key`` columns."""
    return QUERY_PREFIX + query_key


@dataclass(frozen=True)
class StoredQuery:
    """A registered listening query."""

    query_key: str
    query_text: str
    regions: tuple[str, ...] = ()
    tenant_id: int = 1
    source_id: str | None = None
    since: date | None = None
    created_at: datetime | None = None

    @property
    def storage_key(self) -> str:
        return storage_key(self.query_key)


def validate_query_key(key: str) -> str:
    if not isinstance(key, str) or not ACCOUNT_KEY_PATTERN.match(key):
        raise InvalidAccountKey(
            f"invalid query key {key!r}: use 1-63 lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit (it becomes part of partition keys and paths)"
        )
    return key


_COLUMNS = "query_key, query_text, regions, tenant_id, source_id, since, created_at"


def _stored(row: Sequence[Any]) -> StoredQuery:
    return StoredQuery(
        query_key=row[0],
        query_text=row[1],
        regions=tuple(row[2] or ()),
        tenant_id=int(row[3]),
        source_id=row[4],
        since=row[5],
        created_at=row[6],
    )


@dataclass(frozen=True)
class ListeningQueryStore:
    """``tiktok_listening_queries``: add, get, list, remove."""

    engine: sa.Engine

    def add(self, query: StoredQuery) -> StoredQuery:
        validate_query_key(query.query_key)
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    "INSERT INTO tiktok_listening_queries (query_key, query_text, regions, "
                    "tenant_id, source_id, since) VALUES (:key, :text, :regions, :tenant, "
                    f":source, :since) ON CONFLICT (query_key) DO NOTHING RETURNING {_COLUMNS}"
                ),
                {
                    "key": query.query_key,
                    "text": query.query_text,
                    "regions": list(query.regions),
                    "tenant": query.tenant_id,
                    "source": query.source_id,
                    "since": query.since,
                },
            ).first()
        if row is None:
            raise AccountExists(
                f"listening query {query.query_key!r} already exists; remove it first or "
                "pick another key"
            )
        return _stored(row)

    def get(self, query_key: str) -> StoredQuery:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text(f"SELECT {_COLUMNS} FROM tiktok_listening_queries WHERE query_key = :k"),
                {"k": query_key},
            ).first()
        if row is None:
            raise AccountNotFound(f"no listening query {query_key!r}; see `tiktok-etl listen list`")
        return _stored(row)

    def list(self) -> list[StoredQuery]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(f"SELECT {_COLUMNS} FROM tiktok_listening_queries ORDER BY query_key")
            ).all()
        return [_stored(row) for row in rows]

    def remove(self, query_key: str) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.text("DELETE FROM tiktok_listening_queries WHERE query_key = :k"),
                {"k": query_key},
            )
        if result.rowcount == 0:
            raise AccountNotFound(f"no listening query {query_key!r}; see `tiktok-etl listen list`")


@dataclass(frozen=True)
class QuotaUsage:
    """One UTC day of the shared Research quota."""

    day: date
    requests: int
    records: int
    request_limit: int
    record_limit: int
    resets_at: str
    refused_by_tiktok: bool = False

    @property
    def exhausted(self) -> bool:
        return (
            self.refused_by_tiktok
            or self.requests >= self.request_limit
            or self.records >= self.record_limit
        )

    def as_metadata(self) -> dict[str, Any]:
        return {
            "research_quota_day": self.day.isoformat(),
            "research_requests_used": self.requests,
            "research_requests_limit": self.request_limit,
            "research_records_used": self.records,
            "research_records_limit": self.record_limit,
            "research_quota_resets_at": self.resets_at,
        }


class PostgresResearchQuota:
    """The daily Research quota shared by every process (a ``QuotaGuard``).

    ``reserve_request`` is one atomic statement: it adds a request only while both counts
    are under their limits, so concurrent workers can never together exceed the request
    limit. Records are only known after the answer, so the record limit stops the *next*
    request (TikTok counts the same way). ``refused`` records TikTok's own refusal: the
    rest of the day is then refused locally, without asking TikTok again.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        request_limit: int,
        record_limit: int,
        now: Any = None,
    ) -> None:
        self.engine = engine
        self.request_limit = request_limit
        self.record_limit = record_limit
        self._now = now or (lambda: datetime.now(UTC))

    def _today(self) -> tuple[date, datetime]:
        now = self._now()
        return now.astimezone(UTC).date(), now

    def reserve_request(self, endpoint: str) -> None:
        day, now = self._today()
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO tiktok_research_quota (day) VALUES (:day) "
                    "ON CONFLICT (day) DO NOTHING"
                ),
                {"day": day},
            )
            reserved = conn.execute(
                sa.text(
                    "UPDATE tiktok_research_quota SET requests = requests + 1, "
                    "updated_at = now() WHERE day = :day AND exhausted_at IS NULL "
                    "AND requests < :requests AND records < :records RETURNING requests"
                ),
                {"day": day, "requests": self.request_limit, "records": self.record_limit},
            ).first()
        if reserved is None:
            usage = self.usage(day)
            raise ResearchQuotaExhausted(
                endpoint,
                "daily_quota_limit_exceeded",
                f"{usage.requests}/{usage.request_limit} requests and {usage.records}/"
                f"{usage.record_limit} records used on {day.isoformat()}",
                resets_at=reset_text(now),
            )

    def record(self, endpoint: str, *, records: int, extra_requests: int = 0) -> None:
        day, _ = self._today()
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE tiktok_research_quota SET records = records + :records, "
                    "requests = requests + :extra, updated_at = now() WHERE day = :day"
                ),
                {"day": day, "records": max(records, 0), "extra": max(extra_requests, 0)},
            )

    def refused(self, endpoint: str) -> None:
        """TikTok refused the reserved request (quota spent): give the reservation back and
        refuse the rest of the day locally, without asking TikTok again."""
        day, _ = self._today()
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE tiktok_research_quota SET requests = greatest(requests - 1, 0), "
                    "exhausted_at = coalesce(exhausted_at, now()), updated_at = now() "
                    "WHERE day = :day"
                ),
                {"day": day},
            )

    def usage(self, day: date | None = None) -> QuotaUsage:
        today, now = self._today()
        day = day or today
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT requests, records, exhausted_at FROM tiktok_research_quota "
                    "WHERE day = :day"
                ),
                {"day": day},
            ).first()
        requests, records = (int(row[0]), int(row[1])) if row else (0, 0)
        return QuotaUsage(
            day=day,
            requests=requests,
            records=records,
            refused_by_tiktok=row is not None and row[2] is not None,
            request_limit=self.request_limit,
            record_limit=self.record_limit,
            resets_at=reset_text(now),
        )
