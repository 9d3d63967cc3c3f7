"""Research API client (academic access): search public videos, list their comments.

Three endpoints on the Display host, all through the shared :class:`Transport` (retries,
backoff, rate limit) and the v2 envelope:

- ``POST /v2/oauth/token/`` with ``grant_type=client_credentials``: an app token
  (``clt.``, about 2 h). :class:`ClientCredentials` keeps it in memory only, fetches a new
  one shortly before expiry or when TikTok rejects it, and registers it with ``redact``.
- ``POST /v2/research/video/query/?fields=...``: a query object, ``start_date`` and
  ``end_date`` (``YYYYMMDD``, inclusive, at most 30 days apart: longer ranges are split),
  ``max_count`` <= 100; later pages send the ``cursor`` *and* the ``search_id`` the first
  page returned.
- ``POST /v2/research/video/comment/list/?fields=...``: ``video_id``, ``max_count`` <= 100,
  ``cursor`` an offset; TikTok serves at most the top 1,000 comments.

IDs arrive as JSON numbers beyond 2**53: Python's JSON decoder keeps integers exact, and a
float id (digits possibly lost on the way) is rejected, never rounded. Every data request is
first reserved with a :class:`QuotaGuard` (the daily 1,000 requests / 100,000 records,
shared by every process in the storage layer's implementation), and the records TikTok
returned are counted against it afterwards. ``daily_quota_limit_exceeded`` raises
:class:`ResearchQuotaExhausted`, never retried. No Dagster, no storage imports.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Protocol, TypeVar

import httpx
from pydantic import BeforeValidator, Field

from tiktok_etl.api.bearer import TokenProvider, call_with_refresh
from tiktok_etl.api.display_envelope import classify_display, classify_display_oauth
from tiktok_etl.api.errors import ApiError, ResearchQuotaExhausted
from tiktok_etl.api.models import Count, TikTokRecord, Timestamp
from tiktok_etl.api.outcome import NOT_JSON, Outcome, parse_json
from tiktok_etl.api.pagination import (
    FetchResult,
    Page,
    collect_complete,
    iter_pages,
    page_from_data,
)
from tiktok_etl.api.redaction import register_secret
from tiktok_etl.api.transport import Transport

TOKEN = "/v2/oauth/token/"
VIDEO_QUERY = "/v2/research/video/query/"
COMMENT_LIST = "/v2/research/video/comment/list/"

MAX_COUNT = 100
MAX_WINDOW_DAYS = 30
MAX_COMMENTS = 1000
QUOTA_EXCEEDED = "daily_quota_limit_exceeded"

VIDEO_FIELDS: tuple[str, ...] = (
    "id",
    "create_time",
    "username",
    "region_code",
    "video_description",
    "hashtag_names",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
    "video_duration",
    "music_id",
)
COMMENT_FIELDS: tuple[str, ...] = (
    "id",
    "video_id",
    "text",
    "like_count",
    "reply_count",
    "parent_comment_id",
    "create_time",
)


def _exact_id(value: Any) -> str:
    """An id sent as a JSON integer or a string of digits; a float may have lost digits."""
    if isinstance(value, bool) or value is None:
        raise ValueError("id must be an integer or a string of digits")
    if isinstance(value, float):
        raise ValueError("id arrived as a floating-point number: its digits cannot be trusted")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("id must not be negative")
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError("id must be an integer or a string of digits")


def _optional_exact_id(value: Any) -> str | None:
    if value is None or value == "" or value == 0:
        return None  # TikTok sends 0 for "no parent"
    return _exact_id(value)


ExactId = Annotated[str, BeforeValidator(_exact_id)]
OptionalExactId = Annotated[str | None, BeforeValidator(_optional_exact_id)]


class ResearchVideo(TikTokRecord):
    """A public video from the video query; ``raw`` keeps the payload as sent."""

    id: ExactId
    create_time: Timestamp
    username: str | None = None
    region_code: str | None = None
    video_description: str | None = None
    hashtag_names: list[str] = Field(default_factory=list)
    like_count: Count = None
    comment_count: Count = None
    share_count: Count = None
    view_count: Count = None
    video_duration: float | None = None
    music_id: OptionalExactId = None


class ResearchComment(TikTokRecord):
    """A comment of a public video; ``parent_comment_id`` is None for top-level comments."""

    id: ExactId
    video_id: ExactId
    create_time: Timestamp
    text: str | None = None
    like_count: Count = None
    reply_count: Count = None
    parent_comment_id: OptionalExactId = None


class QuotaGuard(Protocol):
    """Where the daily Research quota is kept (the storage layer shares it between processes)."""

    def reserve_request(self, endpoint: str) -> None:
        """Take one request from today's budget, or raise ``ResearchQuotaExhausted``."""
        ...

    def record(self, endpoint: str, *, records: int, extra_requests: int = 0) -> None:
        """Count the records a request returned (and retries the transport made)."""
        ...

    def refused(self, endpoint: str) -> None:
        """TikTok refused a reserved request with ``daily_quota_limit_exceeded``."""
        ...


class UnmeteredQuota:
    """No local accounting (scripts, tests): TikTok's own refusal still stops the read."""

    def reserve_request(self, endpoint: str) -> None:
        return None

    def record(self, endpoint: str, *, records: int, extra_requests: int = 0) -> None:
        return None

    def refused(self, endpoint: str) -> None:
        return None


def next_reset(now: datetime) -> datetime:
    """00:00 UTC after ``now``: when TikTok's daily quota starts again."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), tzinfo=UTC)


def reset_text(now: datetime) -> str:
    return f"{next_reset(now):%Y-%m-%d %H:%M} UTC"


def classify_research(response: httpx.Response, endpoint: str, *, now: datetime) -> Outcome:
    """The v2 envelope, plus the Research quota: ``daily_quota_limit_exceeded`` is final."""
    body = parse_json(response)
    if body is not NOT_JSON and isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("code") == QUOTA_EXCEEDED:
            log_id = error.get("log_id")
            return Outcome.fail(
                ResearchQuotaExhausted(
                    endpoint,
                    QUOTA_EXCEEDED,
                    str(error.get("message") or ""),
                    resets_at=reset_text(now),
                    method=response.request.method,
                    log_id=str(log_id) if log_id else None,
                    http_status=response.status_code,
                )
            )
    return classify_display(response, endpoint)


def split_window(
    start: date, end: date, max_days: int = MAX_WINDOW_DAYS
) -> list[tuple[date, date]]:
    """``[start, end]`` (inclusive) as consecutive inclusive windows of at most ``max_days``."""
    if end < start:
        raise ValueError(f"end_date {end} is before start_date {start}")
    windows = []
    cursor = start
    while cursor <= end:
        last = min(end, cursor + timedelta(days=max_days - 1))
        windows.append((cursor, last))
        cursor = last + timedelta(days=1)
    return windows


R = TypeVar("R")


def _first_of_each(result: FetchResult[R], key: Callable[[R], str]) -> FetchResult[R]:
    """``result`` with each record once (the first time it was listed)."""
    seen: set[str] = set()
    unique = []
    for item in result.items:
        if key(item) not in seen:
            seen.add(key(item))
            unique.append(item)
    return FetchResult(items=unique, rejects=result.rejects, pages=result.pages)


class ClientCredentials:
    """The app's client-credentials token, in memory only, renewed before it expires.

    A token is renewed once less than a quarter of its lifetime (at most 5 minutes) is
    left, or when TikTok rejects it. Thread-safe; never persisted, never logged.
    """

    def __init__(
        self, transport: Transport, client_key: str, client_secret: str, *, base_url: str
    ) -> None:
        self._transport = transport
        self._client_key = client_key
        self._client_secret = client_secret
        register_secret(client_secret)
        self._url = f"{base_url.rstrip('/')}{TOKEN}"
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at: datetime | None = None
        self.fetched = 0

    def __repr__(self) -> str:
        return f"ClientCredentials(client_key={self._client_key!r})"

    def access_token(self) -> str:
        with self._lock:
            now = self._transport.clock.now()
            if self._token is None or self._renew_at is None or now >= self._renew_at:
                self._fetch(now)
            assert self._token is not None
            return self._token

    def refresh(self, rejected_token: str) -> str:
        with self._lock:
            if self._token != rejected_token and self._token is not None:
                return self._token
            self._fetch(self._transport.clock.now())
            assert self._token is not None
            return self._token

    def _fetch(self, now: datetime) -> None:
        form = {
            "client_key": self._client_key,
            "client_secret": self._client_secret,
            "grant_type": "client_credentials",
        }
        reply = self._transport.send(
            "POST",
            self._url,
            endpoint=TOKEN,
            classify=classify_display_oauth,
            headers={"Cache-Control": "no-cache"},
            data=form,
        )
        payload = reply.payload if isinstance(reply.payload, Mapping) else {}
        token = payload.get("access_token")
        lifetime = payload.get("expires_in")
        if not isinstance(token, str) or not token.strip():
            raise ApiError(TOKEN, "malformed_response", "no access_token in the token answer")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            raise ApiError(TOKEN, "malformed_response", "no positive expires_in in the answer")
        register_secret(token)
        self._token = token
        margin = min(300.0, float(lifetime) / 4)
        self._renew_at = now + timedelta(seconds=float(lifetime) - margin)
        self.fetched += 1


@dataclass
class ResearchPage(Page[Any]):
    """A video query page: a `Page` plus the search id later pages must send."""

    search_id: str | None = None


class ResearchClient:
    """Search public videos and read their comments through the Research API.

    Example:
        tokens = ClientCredentials(transport, key, secret, base_url="https://open.tiktokapis.com")
        client = ResearchClient(transport, tokens, base_url="https://open.tiktokapis.com")
        found = client.videos(parse_query("#acme OR acme").to_tiktok(),
                              date(2026, 3, 1), date(2026, 3, 1))
    """

    def __init__(
        self,
        transport: Transport,
        tokens: TokenProvider,
        *,
        base_url: str,
        quota: QuotaGuard | None = None,
        video_fields: Sequence[str] = VIDEO_FIELDS,
        comment_fields: Sequence[str] = COMMENT_FIELDS,
    ) -> None:
        self._transport = transport
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        self.quota: QuotaGuard = quota or UnmeteredQuota()
        self.video_fields = tuple(video_fields)
        self.comment_fields = tuple(comment_fields)

    def _classify(self, response: httpx.Response, endpoint: str) -> Outcome:
        return classify_research(response, endpoint, now=self._transport.clock.now())

    def _post(
        self, endpoint: str, fields: Sequence[str], body: Mapping[str, Any], list_key: str
    ) -> Any:
        """One metered data request: reserve it, send it, count what came back."""
        url = f"{self.base_url}{endpoint}"

        def attempt(token: str) -> Any:
            self.quota.reserve_request(endpoint)
            try:
                reply = self._transport.send(
                    "POST",
                    url,
                    endpoint=endpoint,
                    classify=self._classify,
                    headers={"Authorization": f"Bearer {token}"},
                    params={"fields": ",".join(fields)},
                    json=dict(body),
                )
            except ResearchQuotaExhausted:
                self.quota.refused(endpoint)
                raise
            data = reply.payload if isinstance(reply.payload, Mapping) else {}
            returned = data.get(list_key)
            self.quota.record(
                endpoint,
                records=len(returned) if isinstance(returned, list) else 0,
                extra_requests=reply.attempts - 1,
            )
            return data

        data = call_with_refresh(self.tokens, attempt)
        self._transport.stats.record_page()
        return data

    def query_videos_page(
        self,
        query: Mapping[str, Any],
        start: date,
        end: date,
        *,
        cursor: int | None = None,
        search_id: str | None = None,
        max_count: int = MAX_COUNT,
    ) -> ResearchPage:
        """One page of the video query for ``[start, end]`` (at most 30 days)."""
        if (end - start).days >= MAX_WINDOW_DAYS or end < start:
            raise ValueError(f"a video query window spans 1 to {MAX_WINDOW_DAYS} days")
        body: dict[str, Any] = {
            "query": dict(query),
            "start_date": start.strftime("%Y%m%d"),
            "end_date": end.strftime("%Y%m%d"),
            "max_count": min(max(max_count, 1), MAX_COUNT),
        }
        if cursor is not None:
            body["cursor"] = cursor
        if search_id:
            body["search_id"] = search_id
        data = self._post(VIDEO_QUERY, self.video_fields, body, "videos")
        page = page_from_data(data, "videos", ResearchVideo.from_payload, "research_video")
        returned = data.get("search_id")
        return ResearchPage(
            items=page.items,
            rejects=page.rejects,
            cursor=page.cursor,
            has_more=page.has_more,
            search_id=str(returned) if returned not in (None, "") else search_id,
        )

    def iter_video_pages(
        self, query: Mapping[str, Any], start: date, end: date, max_count: int = MAX_COUNT
    ) -> Iterator[Page[ResearchVideo]]:
        """Every page of one window's search, sending the first page's search id after it."""
        state: dict[str, str | None] = {"search_id": None}

        def fetch(cursor: int | None) -> Page[ResearchVideo]:
            page = self.query_videos_page(
                query, start, end, cursor=cursor, search_id=state["search_id"],
                max_count=max_count,
            )  # fmt: skip
            state["search_id"] = page.search_id
            return page

        # no repeated-record check: a search may list a video on two pages; `videos` keeps
        # the first (the cursor must still advance, or the read is incomplete)
        return iter_pages(fetch, label=VIDEO_QUERY)

    def videos(
        self, query: Mapping[str, Any], start: date, end: date, max_count: int = MAX_COUNT
    ) -> FetchResult[ResearchVideo]:
        """Every video matching ``query`` created from ``start`` to ``end`` (inclusive,
        UTC days), searching windows of at most 30 days."""
        result: FetchResult[ResearchVideo] = FetchResult()
        for first, last in split_window(start, end):

            def read(first: date = first, last: date = last) -> Iterator[Page[ResearchVideo]]:
                return self.iter_video_pages(query, first, last, max_count)

            result.extend(collect_complete(read))
        return _first_of_each(result, lambda video: video.id)

    def comments_page(
        self, video_id: str, cursor: int = 0, max_count: int = MAX_COUNT
    ) -> Page[ResearchComment]:
        body = {
            # TikTok documents video_id as a number; ids beyond 2**53 stay exact in JSON
            "video_id": int(video_id) if video_id.isdigit() else video_id,
            "max_count": min(max(max_count, 1), MAX_COUNT),
            "cursor": cursor,
        }
        data = self._post(COMMENT_LIST, self.comment_fields, body, "comments")
        return page_from_data(data, "comments", ResearchComment.from_payload, "research_comment")

    def comments(self, video_id: str, limit: int = MAX_COUNT) -> FetchResult[ResearchComment]:
        """The video's top ``limit`` comments (TikTok serves at most 1,000)."""
        limit = min(max(limit, 1), MAX_COMMENTS)

        def read() -> Iterator[Page[ResearchComment]]:
            def fetch(cursor: int | None) -> Page[ResearchComment]:
                offset = cursor or 0
                return self.comments_page(video_id, offset, min(MAX_COUNT, limit - offset))

            return iter_pages(fetch, cursor=0, label=COMMENT_LIST)

        result = collect_complete(
            read, stop_after=lambda page: page.cursor is not None and page.cursor >= limit
        )
        return _first_of_each(result, lambda comment: comment.id)
