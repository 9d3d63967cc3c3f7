"""The Research API, simulated: client-credentials tokens, the video query, comment lists.

World: every UTC day from ``history_days`` before the clock's start holds a deterministic
handful of public videos (``ResearchWorld.videos_on(day)``) by a few usernames, in a few
regions, with keywords and hashtags from a small vocabulary; some videos have over 100
comments so comment paging is exercised. Only records with ``create_time <= now`` exist.

As TikTok documents it:

- ``POST /v2/oauth/token/`` with ``grant_type=client_credentials`` (form) and the built-in
  credentials (:data:`CLIENT_KEY`, :data:`CLIENT_SECRET`) answers ``clt.`` tokens living
  ``token_ttl`` seconds; other grant types go to the Display OAuth handler.
- ``POST /v2/research/video/query/?fields=...``: the query object is evaluated for real
  (``and``/``or``/``not`` of ``EQ``/``IN`` conditions on ``keyword``, ``hashtag_name``,
  ``username``, ``region_code``, ``video_id``), ``start_date``/``end_date`` (``YYYYMMDD``,
  inclusive) at most 30 days apart, ``max_count`` <= 100; the first page returns a
  ``search_id``, later pages must send it with their ``cursor``.
- ``POST /v2/research/video/comment/list/?fields=...``: ``video_id``, ``cursor`` offset,
  ``max_count`` <= 100, at most the top 1,000 comments.
- Ids are JSON numbers. Each data request that is answered counts one request, and its
  videos or comments count as records, per UTC day; at the limit TikTok's
  ``daily_quota_limit_exceeded`` (HTTP 429) is answered, and not counted.

Truth for tests: :meth:`ResearchWorld.videos_on`, :meth:`ResearchWorld.comments_of`,
:meth:`ResearchService.usage`.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx

from tiktok_etl.sandbox import oauth
from tiktok_etl.sandbox.clock import NowSource, as_utc, utc_now
from tiktok_etl.sandbox.context import ApiFailure, RequestContext, Route, Style
from tiktok_etl.sandbox.world import stable_int

CLIENT_KEY = "sandbox-research-key"
CLIENT_SECRET = "sandbox-research-secret"
QUERY_PATH = "/v2/research/video/query/"
COMMENTS_PATH = "/v2/research/video/comment/list/"

VIDEO_FIELDS = (
    "id", "create_time", "username", "region_code", "video_description", "hashtag_names",
    "like_count", "comment_count", "share_count", "view_count", "video_duration", "music_id",
)  # fmt: skip
COMMENT_FIELDS = (
    "id", "video_id", "text", "like_count", "reply_count", "parent_comment_id", "create_time",
)  # fmt: skip
USERNAMES = ("acme_official", "daily_dana", "foodie_fe", "tech_tom", "travel_tia", "brandwatcher")
REGIONS = ("US", "GB", "DE", "FR", "JP", "BR")
HASHTAGS = ("acme", "launch", "food", "travel", "tech", "fyp", "summer", "recall")
WORDS = (
    "acme", "new", "flavour", "review", "unboxing", "launch", "great", "city", "recipe",
    "honest", "morning", "weekend", "gadget", "trip",
)  # fmt: skip
COMMENT_WORDS = ("love", "this", "acme", "where", "buy", "nice", "lol", "same", "wow", "first")
FIELDS = frozenset({"keyword", "hashtag_name", "username", "region_code", "video_id"})


@dataclass(frozen=True)
class PublicVideo:
    id: int
    create_time: int
    username: str
    region_code: str
    description: str
    hashtags: tuple[str, ...]
    view_count: int
    like_count: int
    share_count: int
    comment_total: int
    duration: int
    music_id: int

    def payload(self, fields: Iterable[str]) -> dict[str, Any]:
        full: dict[str, Any] = {
            "id": self.id,
            "create_time": self.create_time,
            "username": self.username,
            "region_code": self.region_code,
            "video_description": self.description,
            "hashtag_names": list(self.hashtags),
            "like_count": self.like_count,
            "comment_count": self.comment_total,
            "share_count": self.share_count,
            "view_count": self.view_count,
            "video_duration": self.duration,
            "music_id": self.music_id,
        }
        return {name: full[name] for name in fields}


@dataclass(frozen=True)
class PublicComment:
    id: int
    video_id: int
    text: str
    like_count: int
    reply_count: int
    parent_comment_id: int
    create_time: int

    def payload(self, fields: Iterable[str]) -> dict[str, Any]:
        full = {
            "id": self.id,
            "video_id": self.video_id,
            "text": self.text,
            "like_count": self.like_count,
            "reply_count": self.reply_count,
            "parent_comment_id": self.parent_comment_id,
            "create_time": self.create_time,
        }
        return {name: full[name] for name in fields}


class ResearchWorld:
    """Deterministic public videos and comments, from a seed."""

    def __init__(self, seed: int, clock: NowSource, *, history_days: int = 120) -> None:
        self.seed = seed
        self.clock = clock
        self.first_day = as_utc(clock()).date() - timedelta(days=history_days)

    def _day_videos(self, day: date) -> list[PublicVideo]:
        if day < self.first_day:
            return []
        start = int(datetime.combine(day, time(), tzinfo=UTC).timestamp())
        count = 2 + stable_int(self.seed, "research-count", day) % 7
        videos = []
        for n in range(count):
            r = stable_int(self.seed, "research-video", day, n)
            hashtags = tuple(
                dict.fromkeys(HASHTAGS[(r >> (8 * k)) % len(HASHTAGS)] for k in range(r % 4))
            )
            words = [WORDS[(r >> (5 * k + 3)) % len(WORDS)] for k in range(4 + r % 5)]
            description = " ".join(words + [f"#{tag}" for tag in hashtags])
            heavy = r % 11 == 0
            comments = 120 + r % 130 if heavy else r % 25
            views = 100 + r % 90_000
            videos.append(
                PublicVideo(
                    # beyond 2**53: a JSON decoder that goes through floats loses digits
                    id=7_300_000_000_000_000_000 + (day - self.first_day).days * 1000 + n,
                    create_time=start + (r >> 20) % 86_400,
                    username=USERNAMES[(r >> 40) % len(USERNAMES)],
                    region_code=REGIONS[(r >> 44) % len(REGIONS)],
                    description=description,
                    hashtags=hashtags,
                    view_count=views,
                    like_count=views // (2 + r % 7),
                    share_count=views // (20 + r % 30),
                    comment_total=comments,
                    duration=5 + r % 170,
                    music_id=6_900_000_000_000_000_000 + r % 1_000_000,
                )
            )
        return videos

    def videos_on(self, day: date, now: int | None = None) -> list[PublicVideo]:
        """The public videos created on ``day`` that exist at ``now`` (default: the clock)."""
        moment = int(as_utc(self.clock()).timestamp()) if now is None else now
        return [video for video in self._day_videos(day) if video.create_time <= moment]

    def video(self, video_id: int) -> PublicVideo | None:
        offset = video_id - 7_300_000_000_000_000_000
        if offset < 0:
            return None
        day = self.first_day + timedelta(days=offset // 1000)
        for video in self._day_videos(day):
            if video.id == video_id:
                return video
        return None

    def comments_of(self, video: PublicVideo) -> list[PublicComment]:
        """The video's comments, most liked first (TikTok's "top" order)."""
        comments: list[PublicComment] = []
        for k in range(video.comment_total):
            r = stable_int(self.seed, "research-comment", video.id, k)
            comment_id = 7_400_000_000_000_000_000 + (video.id % 10**9) * 1000 + k
            parent = comments[r % len(comments)].id if comments and r % 5 == 0 else 0
            comments.append(
                PublicComment(
                    id=comment_id,
                    video_id=video.id,
                    text=" ".join(COMMENT_WORDS[(r >> (4 * j)) % 10] for j in range(2 + r % 4)),
                    like_count=r % 500,
                    reply_count=0,
                    parent_comment_id=parent,
                    create_time=video.create_time + 60 + (r >> 16) % 86_400,
                )
            )
        return sorted(comments, key=lambda c: (-c.like_count, c.id))


def _values(ctx: RequestContext, condition: Any) -> tuple[str, str, list[str]]:
    if not isinstance(condition, dict):
        raise ctx.fail("invalid_params", "Each condition must be an object.")
    operation = condition.get("operation")
    field_name = condition.get("field_name")
    values = condition.get("field_values")
    if field_name not in FIELDS:
        raise ctx.fail("invalid_params", f"Unsupported field_name {field_name!r}.")
    if operation not in ("EQ", "IN"):
        raise ctx.fail("invalid_params", f"Unsupported operation {operation!r}.")
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ctx.fail("invalid_params", "field_values must be a non-empty list of strings.")
    if operation == "EQ" and len(values) != 1:
        raise ctx.fail("invalid_params", "EQ takes exactly one field value.")
    return operation, field_name, values


def _holds(video: PublicVideo, field_name: str, values: list[str]) -> bool:
    if field_name == "keyword":
        text = video.description.lower()
        return any(value.lower() in text for value in values)
    if field_name == "hashtag_name":
        return any(value.lower().lstrip("#") in video.hashtags for value in values)
    if field_name == "username":
        return video.username in values
    if field_name == "region_code":
        return video.region_code in {value.upper() for value in values}
    return str(video.id) in values


def _matcher(ctx: RequestContext, query: Any) -> Any:
    if not isinstance(query, dict) or not query or set(query) - {"and", "or", "not"}:
        raise ctx.fail("invalid_params", "query must be an object with and, or, not lists.")
    groups: dict[str, list[tuple[str, list[str]]]] = {}
    for name in ("and", "or", "not"):
        conditions = query.get(name, [])
        if not isinstance(conditions, list):
            raise ctx.fail("invalid_params", f"query.{name} must be a list.")
        groups[name] = [_values(ctx, c)[1:] for c in conditions]

    def matches(video: PublicVideo) -> bool:
        return (
            all(_holds(video, f, v) for f, v in groups["and"])
            and (not groups["or"] or any(_holds(video, f, v) for f, v in groups["or"]))
            and not any(_holds(video, f, v) for f, v in groups["not"])
        )

    return matches


def _date(ctx: RequestContext, body: dict[str, Any], name: str) -> date:
    raw = body.get(name)
    if isinstance(raw, str) and len(raw) == 8 and raw.isdigit():
        try:
            return datetime.strptime(raw, "%Y%m%d").date()
        except ValueError:
            pass
    raise ctx.fail("invalid_params", f"{name} is required, written YYYYMMDD.")


@dataclass
class _Search:
    ids: list[int]


@dataclass
class ResearchService:
    """The Research API's state in one sandbox: tokens, searches and the daily quota."""

    seed: int
    clock: NowSource = field(default=utc_now)
    token_ttl: int = 7200
    daily_requests: int = 1000
    daily_records: int = 100_000
    history_days: int = 120
    world: ResearchWorld = field(init=False)
    _tokens: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _searches: dict[str, _Search] = field(default_factory=dict, init=False, repr=False)
    _usage: dict[date, list[int]] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    tokens_issued: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.world = ResearchWorld(self.seed, self.clock, history_days=self.history_days)

    def usage(self, day: date) -> tuple[int, int]:
        """(requests, records) the sandbox counted for ``day``."""
        with self._lock:
            requests, records = self._usage.get(day, [0, 0])
            return requests, records

    def expire_tokens(self) -> None:
        """Make every issued token invalid now (to exercise the client's renewal)."""
        with self._lock:
            self._tokens.clear()

    # routes

    def routes(self) -> Iterator[Route]:
        yield Route("POST", "/v2/oauth/token/", Style.OAUTH, self.token)
        yield Route("POST", QUERY_PATH, Style.DISPLAY, self.query_videos)
        yield Route("POST", COMMENTS_PATH, Style.DISPLAY, self.comment_list)

    def token(self, ctx: RequestContext) -> httpx.Response:
        form = ctx.form_body()
        if form.get("grant_type") != "client_credentials":
            return oauth.display_token(ctx)
        if form.get("client_key") != CLIENT_KEY or form.get("client_secret") != CLIENT_SECRET:
            raise ApiFailure("invalid_client", "Client key or secret is invalid.", 401)
        token = "clt." + secrets.token_hex(24)
        with self._lock:
            self._tokens[token] = ctx.now + self.token_ttl
            self.tokens_issued += 1
        return ctx.ok({"access_token": token, "expires_in": self.token_ttl, "token_type": "Bearer"})

    def _authorize(self, ctx: RequestContext) -> None:
        scheme, _, token = ctx.request.headers.get("authorization", "").partition(" ")
        with self._lock:
            expires = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expires is None or ctx.now >= expires:
            raise ctx.fail("token_invalid")

    def _meter(self, ctx: RequestContext, records: int) -> None:
        """Count one answered request and its records, or refuse it: the day is spent."""
        day = datetime.fromtimestamp(ctx.now, tz=UTC).date()
        with self._lock:
            used = self._usage.setdefault(day, [0, 0])
            if used[0] >= self.daily_requests or used[1] >= self.daily_records:
                raise ApiFailure(
                    "daily_quota_limit_exceeded",
                    "The daily quota limit of the API has been exceeded.",
                    429,
                )
            used[0] += 1
            used[1] += records

    def _fields(self, ctx: RequestContext, allowed: tuple[str, ...]) -> list[str]:
        raw = ctx.required_query("fields")
        return ctx.field_list([f.strip() for f in raw.split(",") if f.strip()], allowed)

    def query_videos(self, ctx: RequestContext) -> httpx.Response:
        self._authorize(ctx)
        fields = self._fields(ctx, VIDEO_FIELDS)
        body = ctx.json_body()
        start, end = _date(ctx, body, "start_date"), _date(ctx, body, "end_date")
        if end < start or (end - start).days > 30:
            raise ctx.fail(
                "invalid_params", "end_date must be no more than 30 days after start_date."
            )
        max_count = ctx.integer(body.get("max_count"), "max_count", 20, low=1, high=100)
        cursor = ctx.integer(body.get("cursor"), "cursor", 0)
        search_id = body.get("search_id")
        with self._lock:
            search = self._searches.get(search_id) if isinstance(search_id, str) else None
        if cursor and search is None:
            raise ctx.fail(
                "invalid_params", "search_id from the first page is required with a cursor."
            )
        if search is None:
            matches = _matcher(ctx, body.get("query"))
            found: list[int] = []
            day = start
            while day <= end:
                found.extend(v.id for v in self.world.videos_on(day, ctx.now) if matches(v))
                day += timedelta(days=1)
            search_id = f"{stable_int(self.seed, 'search', secrets.token_hex(8)):x}"
            search = _Search(found)
            with self._lock:
                self._searches[search_id] = search
        ids = search.ids[cursor : cursor + max_count]
        videos = [self.world.video(i) for i in ids]
        self._meter(ctx, len(videos))
        next_cursor = cursor + len(ids)
        return ctx.ok(
            {
                "videos": [v.payload(fields) for v in videos if v is not None],
                "cursor": next_cursor,
                "has_more": next_cursor < len(search.ids),
                "search_id": search_id,
            }
        )

    def comment_list(self, ctx: RequestContext) -> httpx.Response:
        self._authorize(ctx)
        fields = self._fields(ctx, COMMENT_FIELDS)
        body = ctx.json_body()
        raw_id = body.get("video_id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, int | str):
            raise ctx.fail("invalid_params", "video_id is required.")
        try:
            video_id = int(raw_id)
        except ValueError:
            raise ctx.fail("invalid_params", "video_id must be a number.") from None
        video = self.world.video(video_id)
        if video is None or video.create_time > ctx.now:
            raise ctx.fail("invalid_params", "The video does not exist or is not public.")
        max_count = ctx.integer(body.get("max_count"), "max_count", 10, low=1, high=100)
        cursor = ctx.integer(body.get("cursor"), "cursor", 0, high=1000)
        visible = [c for c in self.world.comments_of(video) if c.create_time <= ctx.now][:1000]
        page = visible[cursor : cursor + max_count]
        self._meter(ctx, len(page))
        next_cursor = cursor + len(page)
        return ctx.ok(
            {
                "comments": [c.payload(fields) for c in page],
                "cursor": next_cursor,
                "has_more": next_cursor < len(visible),
            }
        )
