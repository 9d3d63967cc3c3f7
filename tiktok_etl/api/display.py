"""Display API v2 client (open.tiktokapis.com): user profile and videos of a Login Kit user.

Requests carry `Authorization: Bearer <token>`; answers use the v2 envelope
(`display_envelope`). Listings go through the shared pagination helper; the
time-window reader starts at the window's end (the cursor is a millisecond
timestamp: TikTok returns videos posted before it) and stops early once it has
passed the window's start.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from tiktok_etl.api.bearer import TokenProvider
from tiktok_etl.api.display_envelope import classify_display
from tiktok_etl.api.models import DisplayUser, DisplayVideo, requested_fields
from tiktok_etl.api.pagination import FetchResult, Page, collect_complete, iter_pages
from tiktok_etl.api.session import ApiSession
from tiktok_etl.api.transport import Transport
from tiktok_etl.api.windows import check_window, in_window, to_epoch_ms

USER_INFO = "/v2/user/info/"
VIDEO_LIST = "/v2/video/list/"

USER_FIELDS_BY_SCOPE: Mapping[str, tuple[str, ...]] = {
    "user.info.basic": ("open_id", "union_id", "avatar_url", "display_name"),
    "user.info.profile": ("bio_description", "profile_deep_link", "is_verified", "username"),
    "user.info.stats": ("follower_count", "following_count", "likes_count", "video_count"),
}

# the fields DisplayVideo declares; `is_aigc` only when asked for through `video_fields`
VIDEO_FIELDS: tuple[str, ...] = requested_fields(DisplayVideo)

MAX_VIDEOS_PER_PAGE = 20


def user_fields_for_scopes(scopes: Iterable[str] | None) -> tuple[str, ...]:
    """The user fields the granted scopes allow; basic fields only when scopes are unknown."""
    granted = set(scopes or ()) | {"user.info.basic"}
    return tuple(
        name for scope, names in USER_FIELDS_BY_SCOPE.items() if scope in granted for name in names
    )


class DisplayClient:
    """Reads one Login Kit user's profile and videos.

    Example:
        client = DisplayClient(transport, provider, base_url="https://open.tiktokapis.com",
                               scopes=tokens.scopes)
        day = client.videos_created_between(datetime(2026, 3, 1, tzinfo=UTC),
                                            datetime(2026, 3, 2, tzinfo=UTC))
    """

    def __init__(
        self,
        transport: Transport,
        tokens: TokenProvider,
        *,
        base_url: str,
        scopes: Iterable[str] | None = None,
        video_fields: Sequence[str] = VIDEO_FIELDS,
    ) -> None:
        self._session = ApiSession(
            transport,
            tokens,
            base_url=base_url,
            auth_headers=lambda token: {"Authorization": f"Bearer {token}"},
            classify=classify_display,
        )
        self.scopes: tuple[str, ...] = tuple(scopes or ())
        self.video_fields = tuple(video_fields)
        if "id" not in self.video_fields or "create_time" not in self.video_fields:
            raise ValueError("video_fields must include id and create_time")

    def user_info(self, fields: Sequence[str] | None = None) -> DisplayUser:
        """The user's profile; by default only the fields the granted scopes allow."""
        wanted = tuple(fields) if fields is not None else user_fields_for_scopes(self.scopes)
        if "open_id" not in wanted:
            wanted = ("open_id", *wanted)
        data = self._session.call("GET", USER_INFO, params={"fields": ",".join(wanted)})
        user = data.get("user") if isinstance(data, Mapping) else None
        return self._session.record("GET", USER_INFO, user, DisplayUser.from_payload)

    def list_videos(self, cursor: int | None = None, max_count: int = 20) -> Page[DisplayVideo]:
        """One page of videos, newest first, posted before `cursor` (Unix milliseconds)."""
        body: dict[str, Any] = {"max_count": min(max(max_count, 1), MAX_VIDEOS_PER_PAGE)}
        if cursor is not None:
            body["cursor"] = cursor
        return self._session.page(
            "POST",
            VIDEO_LIST,
            params={"fields": ",".join(self.video_fields)},
            json=body,
            list_key="videos",
            build=DisplayVideo.from_payload,
            kind="display_video",
        )

    def iter_video_pages(
        self, cursor: int | None = None, max_count: int = 20
    ) -> Iterator[Page[DisplayVideo]]:
        """Every page of the video listing from `cursor` on, newest first."""
        return iter_pages(
            lambda next_cursor: self.list_videos(next_cursor, max_count),
            cursor=cursor,
            label=VIDEO_LIST,
            record_id=lambda video: video.id,
        )

    def all_videos(self, max_count: int = 20) -> FetchResult[DisplayVideo]:
        """Every video of the user."""
        return collect_complete(lambda: self.iter_video_pages(max_count=max_count))

    def videos_created_between(
        self, start: datetime, end: datetime, max_count: int = 20
    ) -> FetchResult[DisplayVideo]:
        """Videos with `start <= create_time < end`, reading only the pages that can hold them.

        The read starts at `cursor = end` in milliseconds and stops after the
        first page whose last (oldest) video is older than `start`, or whose
        next cursor already lies before `start`. The last item rather than the
        page minimum decides, so a pinned old video at the top of a page
        cannot end the read early. The filter is authoritative, so the result
        is exact whether TikTok's "before the cursor" is strict or not.
        """
        check_window(start, end)
        start_ms = to_epoch_ms(start)

        def passed_start(page: Page[DisplayVideo]) -> bool:
            if page.items and page.items[-1].create_time < start:
                return True
            return page.cursor is not None and page.cursor < start_ms

        return collect_complete(
            lambda: self.iter_video_pages(cursor=to_epoch_ms(end), max_count=max_count),
            keep=lambda video: in_window(video.create_time, start, end),
            stop_after=passed_start,
        )
