"""Business (Accounts) API v1.3 client: profile, videos with analytics, and comments.

Requests carry `Access-Token: <token>` and a `business_id` (the account's
`open_id`); answers use the Business envelope (`business_envelope`), where
errors usually come with HTTP 200. Listings use the shared pagination helper.
Comment reads for many videos run concurrently, all inside the transport's
shared rate limiter.

Writes (create, reply, delete) are never retried after an ambiguous failure
such as a read timeout or a 500: the comment may already exist, and posting it
twice is worse than reporting an error. They are retried only when TikTok
certainly did not act (throttled, in maintenance, connection never opened).
Hiding sets a state (`HIDE` / `UNHIDE`), so it is retried like a read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tiktok_etl.api.bearer import TokenProvider
from tiktok_etl.api.business_envelope import classify_business
from tiktok_etl.api.errors import ApiError
from tiktok_etl.api.models import (
    BusinessComment,
    BusinessUser,
    BusinessVideo,
    requested_fields,
)
from tiktok_etl.api.pagination import FetchResult, Page, collect_complete, iter_pages
from tiktok_etl.api.session import ApiSession
from tiktok_etl.api.transport import Transport
from tiktok_etl.api.windows import check_window, in_window

PROFILE = "business/get/"
VIDEO_LIST = "business/video/list/"
COMMENT_LIST = "business/comment/list/"
REPLY_LIST = "business/comment/reply/list/"
COMMENT_CREATE = "business/comment/create/"
REPLY_CREATE = "business/comment/reply/create/"
COMMENT_DELETE = "business/comment/delete/"
COMMENT_HIDE = "business/comment/hide/"

PROFILE_FIELDS: tuple[str, ...] = (
    "username",
    "display_name",
    "profile_image",
    "followers_count",
    "is_business_account",
)
VIDEO_FIELDS: tuple[str, ...] = requested_fields(BusinessVideo)

MAX_VIDEOS_PER_PAGE = 20
MAX_COMMENTS_PER_PAGE = 30
MAX_COMMENT_LENGTH = 150


def fields_param(fields: Sequence[str]) -> str:
    """The Business API's `fields` query value: a compact JSON array."""
    return json.dumps(list(fields), separators=(",", ":"))


def _clamp(value: int, upper: int) -> int:
    return min(max(value, 1), upper)


def check_comment_text(text: str) -> None:
    """Refuse a comment or reply TikTok would refuse: empty, or over 150 characters."""
    if not text.strip():
        raise ValueError("comment text must not be empty")
    if len(text) > MAX_COMMENT_LENGTH:
        raise ValueError(f"comment text is {len(text)} characters; at most {MAX_COMMENT_LENGTH}")


@dataclass(frozen=True)
class CommentRequest:
    """Which comments of one video to read: `since <= create_time < until`."""

    video_id: str
    since: datetime
    until: datetime | None = None
    include_replies: bool = True


class BusinessClient:
    """Reads and manages one Business account's videos and comments.

    Example:
        client = BusinessClient(transport, provider, tokens.open_id,
                                base_url="https://business-api.tiktok.com/open_api/v1.3")
        comments = client.comments_since("7109065174526479622", since=yesterday)
    """

    def __init__(
        self,
        transport: Transport,
        tokens: TokenProvider,
        business_id: str,
        *,
        base_url: str,
        video_fields: Sequence[str] = VIDEO_FIELDS,
        profile_fields: Sequence[str] = PROFILE_FIELDS,
    ) -> None:
        if not business_id:
            raise ValueError("business_id is required")
        self.business_id = business_id
        self.video_fields = tuple(video_fields)
        self.profile_fields = tuple(profile_fields)
        if "item_id" not in self.video_fields or "create_time" not in self.video_fields:
            raise ValueError("video_fields must include item_id and create_time")
        self._session = ApiSession(
            transport,
            tokens,
            base_url=base_url,
            auth_headers=lambda token: {"Access-Token": token},
            classify=classify_business,
        )

    # profile

    def get_profile(
        self,
        fields: Sequence[str] | None = None,
        *,
        start_date: date | None = None,
        end_date: date | None = None,
    ) -> BusinessUser:
        """The account's profile (and `metrics` when asked for and within TikTok's ~60 days).

        `start_date` and `end_date` (inclusive UTC days, sent as `YYYY-MM-DD`) bound the
        daily `metrics`; TikTok keeps about 60 days of them."""
        params = {
            "business_id": self.business_id,
            "fields": fields_param(fields if fields is not None else self.profile_fields),
        }
        if start_date is not None:
            params["start_date"] = start_date.isoformat()
        if end_date is not None:
            params["end_date"] = end_date.isoformat()
        data = self._session.call("GET", PROFILE, params=params)
        return self._session.record(
            "GET",
            PROFILE,
            data,
            lambda payload: BusinessUser.from_payload(payload, business_id=self.business_id),
        )

    # videos

    def list_videos(self, cursor: int | None = None, max_count: int = 20) -> Page[BusinessVideo]:
        """One page of the account's videos, newest first."""
        params: dict[str, Any] = {
            "business_id": self.business_id,
            "fields": fields_param(self.video_fields),
            "max_count": _clamp(max_count, MAX_VIDEOS_PER_PAGE),
        }
        if cursor is not None:
            params["cursor"] = cursor
        return self._session.page(
            "GET",
            VIDEO_LIST,
            params=params,
            list_key="videos",
            build=BusinessVideo.from_payload,
            kind="business_video",
        )

    def iter_video_pages(
        self, cursor: int | None = None, max_count: int = 20
    ) -> Iterator[Page[BusinessVideo]]:
        return iter_pages(
            lambda next_cursor: self.list_videos(next_cursor, max_count),
            cursor=cursor,
            label=VIDEO_LIST,
            record_id=lambda video: video.item_id,
        )

    def iter_all_videos(self, max_count: int = 20) -> FetchResult[BusinessVideo]:
        """Every video of the account; `IncompleteListing` when it cannot be read to its end."""
        return collect_complete(lambda: self.iter_video_pages(max_count=max_count))

    def videos_created_between(
        self, start: datetime, end: datetime, max_count: int = 20
    ) -> FetchResult[BusinessVideo]:
        """Videos with `start <= create_time < end`.

        The cursor is an offset, not a time, so the read starts at the newest
        video. It stops after a page whose last (oldest) video is older than
        `start`; pinned videos sit at the top of the first page whatever their
        age, so only the page's last item is a safe signal, as for comments.
        """
        check_window(start, end)
        return collect_complete(
            lambda: self.iter_video_pages(max_count=max_count),
            keep=lambda video: in_window(video.create_time, start, end),
            stop_after=lambda page: bool(page.items) and page.items[-1].create_time < start,
        )

    # comments

    def list_comments(
        self,
        video_id: str,
        cursor: int | None = None,
        max_count: int = 30,
        sort_field: str = "create_time",
        sort_order: str = "desc",
        include_replies: bool = False,
        status: str = "PUBLIC",
    ) -> Page[BusinessComment]:
        """One page of a video's comments."""
        params: dict[str, Any] = {
            "business_id": self.business_id,
            "video_id": video_id,
            "max_count": _clamp(max_count, MAX_COMMENTS_PER_PAGE),
            "sort_field": sort_field,
            "sort_order": sort_order,
            "include_replies": "true" if include_replies else "false",
            "status": status,
        }
        if cursor is not None:
            params["cursor"] = cursor
        return self._session.page(
            "GET",
            COMMENT_LIST,
            params=params,
            list_key="comments",
            build=BusinessComment.from_payload,
            kind="business_comment",
        )

    def comments_since(
        self, video_id: str, since: datetime, until: datetime | None = None
    ) -> FetchResult[BusinessComment]:
        """Top-level comments with `since <= create_time < until`, newest first.

        Stops after the first page whose last (oldest) comment is older than
        `since`; a pinned old comment at the top of a page does not stop it.
        """
        check_window(since, until)
        return collect_complete(
            lambda: iter_pages(
                lambda cursor: self.list_comments(video_id, cursor=cursor),
                label=COMMENT_LIST,
                record_id=lambda comment: comment.comment_id,
            ),
            keep=lambda comment: in_window(comment.create_time, since, until),
            stop_after=lambda page: bool(page.items) and page.items[-1].create_time < since,
        )

    def list_replies(
        self, video_id: str, comment_id: str, cursor: int | None = None, max_count: int = 30
    ) -> Page[BusinessComment]:
        """One page of replies to a comment."""
        params: dict[str, Any] = {
            "business_id": self.business_id,
            "video_id": video_id,
            "comment_id": comment_id,
            "max_count": _clamp(max_count, MAX_COMMENTS_PER_PAGE),
        }
        if cursor is not None:
            params["cursor"] = cursor
        return self._session.page(
            "GET",
            REPLY_LIST,
            params=params,
            list_key="comments",
            build=BusinessComment.from_payload,
            kind="business_reply",
        )

    def replies_since(
        self,
        video_id: str,
        comment_id: str,
        since: datetime,
        until: datetime | None = None,
    ) -> FetchResult[BusinessComment]:
        """Replies to a comment with `since <= create_time < until`.

        The reply listing's order is not documented, so every page is read
        (bounded by the parent's `replies` count) and the filter decides.
        """
        check_window(since, until)
        return collect_complete(
            lambda: iter_pages(
                lambda cursor: self.list_replies(video_id, comment_id, cursor=cursor),
                label=REPLY_LIST,
                record_id=lambda reply: reply.comment_id,
            ),
            keep=lambda reply: in_window(reply.create_time, since, until),
        )

    def comments_for_request(self, request: CommentRequest) -> FetchResult[BusinessComment]:
        """One video's comments in the window, plus replies to those comments that have any.

        Replies are looked up under comments inside the window only; a new
        reply to an older comment needs `replies_since` on that comment.
        """
        result = self.comments_since(request.video_id, request.since, request.until)
        if request.include_replies:
            parents = [comment for comment in result.items if comment.replies]
            for parent in parents:
                result.extend(
                    self.replies_since(
                        request.video_id, parent.comment_id, request.since, request.until
                    )
                )
        return result

    # comment management

    def create_comment(self, video_id: str, text: str) -> str:
        """Post a comment on one of the account's videos; returns its comment_id."""
        check_comment_text(text)
        data = self._session.call(
            "POST",
            COMMENT_CREATE,
            json={"business_id": self.business_id, "video_id": video_id, "text": text},
            idempotent=False,
        )
        return self._comment_id(COMMENT_CREATE, data)

    def reply_to_comment(self, video_id: str, comment_id: str, text: str) -> str:
        """Reply to a comment; returns the reply's comment_id."""
        check_comment_text(text)
        data = self._session.call(
            "POST",
            REPLY_CREATE,
            json={
                "business_id": self.business_id,
                "video_id": video_id,
                "comment_id": comment_id,
                "text": text,
            },
            idempotent=False,
        )
        return self._comment_id(REPLY_CREATE, data)

    def delete_comment(self, comment_id: str) -> None:
        """Delete one of the account's comments."""
        self._session.call(
            "POST",
            COMMENT_DELETE,
            json={"business_id": self.business_id, "comment_id": comment_id},
            idempotent=False,
        )

    def hide_comment(self, video_id: str, comment_id: str, *, hidden: bool = True) -> None:
        """Hide a comment on one of the account's videos from everyone but its author, or
        show it again. Sent as idempotent: hiding a hidden comment changes nothing."""
        self._session.call(
            "POST",
            COMMENT_HIDE,
            json={
                "business_id": self.business_id,
                "video_id": video_id,
                "comment_id": comment_id,
                "action": "HIDE" if hidden else "UNHIDE",
            },
        )

    @staticmethod
    def _comment_id(endpoint: str, data: Any) -> str:
        if isinstance(data, Mapping):
            nested = data.get("comment")
            value = data.get("comment_id") or (
                nested.get("comment_id") if isinstance(nested, Mapping) else None
            )
            if value not in (None, ""):
                return str(value)
        raise ApiError(endpoint, "malformed_response", "no comment_id in the answer", method="POST")
