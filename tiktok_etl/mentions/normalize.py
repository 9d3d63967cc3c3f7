"""Raw TikTok rows -> ``sl_mentions`` rows, one partition at a time, in batches.

Inputs are rows of the raw tables (see :mod:`tiktok_etl.ingest.rows`): shared column
names for both API families plus ``raw``, the original payload. The mapping of every
column, for videos of either API family, comments and replies, is specified column by
column in ``tiktok_etl_tests/mentions/test_normalize.py``. Normalization is streamed:
:func:`normalize_partition` yields lists of at most ``batch_size`` mentions and never
holds a whole partition.

Pure functions: no Dagster, no SQL. Values are produced in the types the store expects
(timezone-aware UTC datetimes, ``date``, lists of strings, JSON-able dicts).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from tiktok_etl.mentions.keywords import KeywordMatcher, KeywordMode
from tiktok_etl.mentions.schema import PLATFORM

Mention = dict[str, Any]
Row = Mapping[str, Any]

DEFAULT_BATCH_SIZE = 10_000


class MentionAccount(Protocol):
    """What normalization needs of an account (``storage.accounts.Account`` has it)."""

    @property
    def account_key(self) -> str: ...

    @property
    def tenant_id(self) -> int: ...

    @property
    def source_id(self) -> str | None: ...

    @property
    def keywords(self) -> Sequence[str]: ...

    @property
    def keyword_mode(self) -> str: ...


@dataclass(frozen=True)
class MentionSource:
    """A plain :class:`MentionAccount`, for callers without a stored account."""

    account_key: str
    tenant_id: int = 1
    source_id: str | None = None
    keywords: tuple[str, ...] = ()
    keyword_mode: KeywordMode = "tag"


@dataclass(frozen=True)
class AccountAuthor:
    """The account as author of its videos, from that day's ``tiktok_users`` row."""

    name: str | None
    handle: str | None
    followers: int | None
    verified: bool | None

    @classmethod
    def from_user_row(cls, user_row: Row | None) -> AccountAuthor:
        if not user_row:
            return cls(None, None, None, None)
        username = user_row.get("username")
        return cls(
            # an account without a display name is known by its username
            name=user_row.get("display_name") or username,
            handle=handle(username),
            followers=user_row.get("follower_count"),
            # the Business API does not say whether an account is verified
            verified=user_row.get("is_verified") if user_row.get("api") != "business" else None,
        )


def handle(username: str | None) -> str | None:
    """``@username``, whether or not TikTok already sent the ``@``."""
    if not username:
        return None
    return username if username.startswith("@") else f"@{username}"


def engagement_rate(
    likes: int | None, comments: int | None, shares: int | None, views: int | None
) -> float | None:
    """``(likes + comments + shares) / views`` (unknown parts count as 0); None without
    views or when none of the parts is known."""
    if not views or (likes is None and comments is None and shares is None):
        return None
    return ((likes or 0) + (comments or 0) + (shares or 0)) / views


def _published_at(row: Row) -> datetime:
    value = row["create_time"]
    if type(value) is datetime and value.tzinfo is UTC:
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("create_time must be timezone-aware")
        return value if value.tzinfo is UTC else value.astimezone(UTC)
    # an epoch (seconds, possibly as a string) straight from a payload
    return datetime.fromtimestamp(float(value), tz=UTC)


def _day(row: Row, published_at: datetime) -> date:
    day = row.get("date")
    return day if type(day) is date else published_at.date()


def _video_text(row: Row) -> tuple[str, str]:
    """The content (description, else title) and the text keywords are matched in."""
    description = row.get("description") or ""
    title = row.get("title") or ""
    content = description if description.strip() else title
    if title and description.strip() and title != description:
        return content, f"{description}\n{title}"
    return content, content


def normalize_video(
    account: MentionAccount,
    author: AccountAuthor | Row | None,
    row: Row,
    matcher: KeywordMatcher,
    *,
    now: datetime,
) -> Mention:
    """A ``tiktok_videos`` row (either API family) as a mention."""
    if not isinstance(author, AccountAuthor):
        author = AccountAuthor.from_user_row(author)
    published_at = _published_at(row)
    content, text = _video_text(row)
    likes = row.get("like_count")
    comments = row.get("comment_count")
    shares = row.get("share_count")
    views = row.get("view_count")
    display = row.get("api") != "business"
    width, height = row.get("width"), row.get("height")
    cover = row.get("cover_image_url")
    return {
        "tenant_id": account.tenant_id,
        "source_id": account.source_id,
        "platform": PLATFORM,
        "external_id": row["video_id"],
        "url": row.get("share_url"),
        "content": content,
        "author_name": author.name,
        "author_handle": author.handle,
        "author_followers": author.followers,
        "author_verified": author.verified,
        "likes_count": likes,
        "comments_count": comments,
        "shares_count": shares,
        "views_count": views,
        "reach": views if display else row.get("reach"),
        "media_type": "video",
        "media_urls": [cover] if cover else [],
        "published_at": published_at,
        "post_type": "video",
        "status": "new",
        "duration": row.get("duration"),
        "dimensions": (
            {"width": width, "height": height}
            if display and (width is not None or height is not None)
            else None
        ),
        "raw_data": row["raw"],
        "parent_external_id": None,
        "matched_keywords": matcher.match(text),
        "engagement_rate": engagement_rate(likes, comments, shares, views),
        "account_key": account.account_key,
        "date": _day(row, published_at),
        "ingested_at": now,
        "updated_at": now,
        "deleted_at": None,
        "metrics_as_of": row.get("fetched_at"),
        "source_kind": "account",
        "source_key": account.account_key,
    }


def normalize_comment(
    account: MentionAccount,
    row: Row,
    video_url: str | None,
    matcher: KeywordMatcher,
    *,
    now: datetime,
) -> Mention:
    """A ``tiktok_comments`` row (a comment, or a reply when it has a parent) as a mention."""
    published_at = _published_at(row)
    content = row.get("text") or ""
    parent = row.get("parent_comment_id")
    username = row.get("username")
    return {
        "tenant_id": account.tenant_id,
        "source_id": account.source_id,
        "platform": PLATFORM,
        "external_id": row["comment_id"],
        "url": video_url,
        "content": content,
        "author_name": username or None,
        "author_handle": (username if username[0] == "@" else "@" + username) if username else None,
        "author_followers": None,
        "author_verified": None,
        "likes_count": row.get("like_count"),
        "comments_count": row.get("reply_count"),
        "shares_count": None,
        "views_count": None,
        "reach": None,
        "media_type": "text",
        "media_urls": [],
        "published_at": published_at,
        "post_type": "reply" if parent else "comment",
        "status": "new",
        "duration": None,
        "dimensions": None,
        "raw_data": row["raw"],
        "parent_external_id": parent or row["video_id"],
        "matched_keywords": matcher.match(content),
        "engagement_rate": None,
        "account_key": account.account_key,
        "date": _day(row, published_at),
        "ingested_at": now,
        "updated_at": now,
        "deleted_at": None,
        "metrics_as_of": row.get("fetched_at"),
        "source_kind": "account",
        "source_key": account.account_key,
    }


def normalize_partition(
    account: MentionAccount,
    user_row: Row | None,
    video_rows: Iterable[Row],
    comment_rows: Iterable[Row],
    video_urls: Mapping[str, str | None],
    matcher: KeywordMatcher | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    now: datetime | None = None,
) -> Iterator[list[Mention]]:
    """One partition's mentions, videos first, in lists of at most ``batch_size``.

    ``user_row`` is the day's ``tiktok_users`` row (None: author fields stay null).
    ``video_urls`` maps video ids to share URLs for comments on videos of other days; the
    day's own videos are added as they stream past. Rows are read lazily, so iterables
    backed by server-side cursors keep memory flat. ``matcher`` defaults to the account's
    keywords; in ``filter`` mode mentions without a match are dropped. ``now`` stamps
    ``ingested_at``/``updated_at`` (the store keeps the first ``ingested_at``).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if matcher is None:
        matcher = KeywordMatcher.for_account(account)
    now = now or datetime.now(UTC)
    author = AccountAuthor.from_user_row(user_row)
    keeps = matcher.keeps
    todays_urls: dict[str, str | None] = {}
    batch: list[Mention] = []
    for row in video_rows:
        todays_urls[row["video_id"]] = row.get("share_url")
        mention = normalize_video(account, author, row, matcher, now=now)
        if keeps(mention["matched_keywords"]):
            batch.append(mention)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    for row in comment_rows:
        video_id = row["video_id"]
        url = todays_urls.get(video_id) or video_urls.get(video_id)
        mention = normalize_comment(account, row, url, matcher, now=now)
        if keeps(mention["matched_keywords"]):
            batch.append(mention)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch
