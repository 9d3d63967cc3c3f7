"""Typed TikTok records: strict on identifiers, tolerant of everything else.

Every record keeps `raw`, the payload exactly as TikTok sent it, so the
warehouse stays lossless even when TikTok adds fields we do not model yet
(unknown fields are also kept as pydantic extras). Identifiers must be present
and non-empty; they arrive as JSON strings or numbers and become `str`. Counts
sent as strings become ints, `create_time` (seconds, as number or string, or
milliseconds) becomes a UTC-aware datetime, and missing optional fields are None.

Hostile values are settled here, the same way for every record: a `create_time` that is
not a finite number between the epoch and the year 9999 fails validation (the record is
rejected); a count that is `NaN`, infinite or beyond a signed 64-bit integer is None
(`raw` keeps what TikTok sent), as storage could not hold it.

Build records with `from_payload`; callers decide what to do with records that
fail validation (the listing helpers turn them into rejects).

A video model is also the request: :func:`requested_fields` lists the fields a client
asks TikTok for, so a new field is declared once, here.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# above this an epoch value is in milliseconds (10**12 s is the year 33658)
_MILLISECONDS_THRESHOLD = 10**12
# 9999-12-31T23:59:59Z: the last second Python's datetime (and PostgreSQL's) both hold
_LATEST_EPOCH = 253_402_300_799
_INT64_MAX = 2**63 - 1
_TIMESTAMP_ERROR = "create_time must be a Unix timestamp between 1970 and 9999"


def _to_id(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise ValueError("identifier must be a non-empty string or integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("identifier must not have a fractional part")
        value = int(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError("identifier must be a non-empty string or integer")


def _to_optional_id(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _to_id(value)


def to_utc_datetime(value: Any) -> datetime:
    """Epoch seconds or milliseconds (number or numeric string), or a datetime, in UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware")
        return value.astimezone(UTC)
    if isinstance(value, bool) or value is None:
        raise ValueError(_TIMESTAMP_ERROR)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError as exc:
            raise ValueError(_TIMESTAMP_ERROR) from exc
    if not isinstance(value, int | float):
        raise ValueError(_TIMESTAMP_ERROR)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(_TIMESTAMP_ERROR)
    if value >= _MILLISECONDS_THRESHOLD:
        if value > _LATEST_EPOCH * 1000:
            raise ValueError(_TIMESTAMP_ERROR)  # also spares an int too large for a float
        value = value / 1000
    if not 0 <= value <= _LATEST_EPOCH:
        raise ValueError(_TIMESTAMP_ERROR)
    return datetime.fromtimestamp(value, tz=UTC)


def _to_count(value: Any) -> Any:
    """A count storage can hold, or None for `NaN`, infinities and integers beyond 64 bits;
    anything else is left to pydantic's `int` (a fractional or non-numeric value fails)."""
    number = value
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return value
    if isinstance(number, float):
        if not math.isfinite(number):
            return None
        if not number.is_integer():
            return value
        number = int(number)
    if isinstance(number, int) and not isinstance(number, bool):
        return number if abs(number) <= _INT64_MAX else None
    return value


class _OnRequestOnly:
    """Field marker: not asked for by default (callers name it to get it)."""

    def __repr__(self) -> str:
        return "ON_REQUEST_ONLY"


ON_REQUEST_ONLY: Final = _OnRequestOnly()

Id = Annotated[str, BeforeValidator(_to_id)]
OptionalId = Annotated[str | None, BeforeValidator(_to_optional_id)]
Timestamp = Annotated[datetime, BeforeValidator(to_utc_datetime)]
Count = Annotated[int | None, BeforeValidator(_to_count)]


class TikTokRecord(BaseModel):
    """Base of every record: unknown fields allowed, original payload kept in `raw`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], **context: Any) -> Self:
        """Validate `payload` (plus client-supplied `context` fields) and keep it verbatim in `raw`.

        `context` holds values the client knows but TikTok does not send in
        the record (such as a Business user's `business_id`); they are
        validated but never written into `raw`.
        """
        if not isinstance(payload, Mapping):
            raise TypeError(f"expected a JSON object, got {type(payload).__name__}")
        fields = {key: value for key, value in payload.items() if key != "raw"}
        record = cls.model_validate({**fields, **context})
        record.raw = copy.deepcopy(dict(payload))
        return record


class DisplayUser(TikTokRecord):
    """A Login Kit user from `GET /v2/user/info/`; which fields are set depends on scopes."""

    open_id: Id
    union_id: str | None = None
    avatar_url: str | None = None
    display_name: str | None = None
    bio_description: str | None = None
    profile_deep_link: str | None = None
    is_verified: bool | None = None
    username: str | None = None
    follower_count: Count = None
    following_count: Count = None
    likes_count: Count = None
    video_count: Count = None


class DisplayVideo(TikTokRecord):
    """A video from `/v2/video/list/` or `/v2/video/query/`."""

    id: Id
    create_time: Timestamp
    cover_image_url: str | None = None
    share_url: str | None = None
    video_description: str | None = None
    title: str | None = None
    duration: Count = None
    height: Count = None
    width: Count = None
    embed_html: str | None = None
    embed_link: str | None = None
    like_count: Count = None
    comment_count: Count = None
    share_count: Count = None
    view_count: Count = None
    # only in newer docs: ask for it explicitly through `video_fields`
    is_aigc: Annotated[bool | None, ON_REQUEST_ONLY] = None


class BusinessUser(TikTokRecord):
    """A Business account profile from `business/get/`; `business_id` is filled by the client."""

    business_id: Id
    username: str | None = None
    display_name: str | None = None
    profile_image: str | None = None
    followers_count: Count = None
    is_business_account: bool | None = None
    metrics: list[Any] | dict[str, Any] | None = None


class BusinessVideo(TikTokRecord):
    """A video with its analytics from `business/video/list/`."""

    item_id: Id
    create_time: Timestamp
    thumbnail_url: str | None = None
    share_url: str | None = None
    embed_url: str | None = None
    caption: str | None = None
    video_views: Count = None
    video_duration: float | None = None
    likes: Count = None
    comments: Count = None
    shares: Count = None
    reach: Count = None
    full_video_watched_rate: float | None = None
    total_time_watched: float | None = None
    average_time_watched: float | None = None
    impression_sources: Any = None
    audience_countries: Any = None


class BusinessComment(TikTokRecord):
    """A comment or reply from `business/comment/list/` or `business/comment/reply/list/`."""

    comment_id: Id
    video_id: Id
    create_time: Timestamp
    unique_identifier: str | None = None
    user_id: str | None = None  # deprecated by TikTok in favour of unique_identifier
    text: str | None = None
    likes: Count = None
    replies: Count = None
    owner: bool | None = None
    liked: bool | None = None
    pinned: bool | None = None
    status: str | None = None
    username: str | None = None
    profile_image: str | None = None
    parent_comment_id: OptionalId = None


def requested_fields(model: type[TikTokRecord]) -> tuple[str, ...]:
    """The `fields` a client requests for `model`: its declared fields, in order, except
    `raw` and those marked :data:`ON_REQUEST_ONLY`."""
    return tuple(
        name
        for name, info in model.model_fields.items()
        if name != "raw" and ON_REQUEST_ONLY not in info.metadata
    )
