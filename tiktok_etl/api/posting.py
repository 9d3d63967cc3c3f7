"""Content Posting API client: creator info, direct-post and inbox inits, chunk PUTs, status.

Calls go through the Display session (Bearer token, v2 envelope, one refresh on a rejected
token) and the shared transport. The init requests are not idempotent (each one creates a
`publish_id`), so an ambiguous failure is never retried. Chunk PUTs go to the `upload_url`
TikTok returned, in order, with `Content-Range`/`Content-Length`/`Content-Type`; a PUT is
safe to repeat (same bytes, same range), so a connection dropped mid-chunk is retried by the
transport, re-sending that chunk only: the upload is never re-initialised while its URL is
valid. `upload` also takes `start_chunk`, to resume after the last acknowledged chunk.

No Dagster, no storage: what to post and whether it is allowed is decided by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tiktok_etl.api.bearer import TokenProvider
from tiktok_etl.api.chunking import Chunk, ChunkPlan
from tiktok_etl.api.display_envelope import classify_display
from tiktok_etl.api.errors import ApiError
from tiktok_etl.api.outcome import NOT_JSON, Outcome, parse_json, server_failed, throttled
from tiktok_etl.api.redaction import register_secret
from tiktok_etl.api.session import ApiSession
from tiktok_etl.api.transport import Transport

CREATOR_INFO = "/v2/post/publish/creator_info/query/"
DIRECT_INIT = "/v2/post/publish/video/init/"
INBOX_INIT = "/v2/post/publish/inbox/video/init/"
STATUS_FETCH = "/v2/post/publish/status/fetch/"
# the rate-budget key of chunk PUTs (the upload URL itself carries a one-time token)
UPLOAD = "/v2/post/publish/upload/"

PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
FINAL_STATUSES = frozenset({"PUBLISH_COMPLETE", "SEND_TO_USER_INBOX", "FAILED"})

ChunkDone = Callable[[Chunk], None]


@dataclass(frozen=True)
class CreatorInfo:
    """What the creator may post now (`creator_info/query`)."""

    username: str
    nickname: str
    privacy_level_options: tuple[str, ...]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int | None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> CreatorInfo:
        options = data.get("privacy_level_options") or ()
        raw_max = data.get("max_video_post_duration_sec")
        return cls(
            username=str(data.get("creator_username") or ""),
            nickname=str(data.get("creator_nickname") or ""),
            privacy_level_options=tuple(str(o) for o in options),
            comment_disabled=bool(data.get("comment_disabled")),
            duet_disabled=bool(data.get("duet_disabled")),
            stitch_disabled=bool(data.get("stitch_disabled")),
            max_video_post_duration_sec=int(raw_max) if raw_max is not None else None,
        )


@dataclass(frozen=True)
class PostInfo:
    """`post_info` of a direct post."""

    title: str
    privacy_level: str
    disable_duet: bool = False
    disable_comment: bool = False
    disable_stitch: bool = False
    video_cover_timestamp_ms: int | None = None
    brand_content_toggle: bool = False
    brand_organic_toggle: bool = False
    is_aigc: bool = False

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "title": self.title,
            "privacy_level": self.privacy_level,
            "disable_duet": self.disable_duet,
            "disable_comment": self.disable_comment,
            "disable_stitch": self.disable_stitch,
            "brand_content_toggle": self.brand_content_toggle,
            "brand_organic_toggle": self.brand_organic_toggle,
            "is_aigc": self.is_aigc,
        }
        if self.video_cover_timestamp_ms is not None:
            body["video_cover_timestamp_ms"] = self.video_cover_timestamp_ms
        return body


@dataclass(frozen=True)
class PullFromUrl:
    """`source_info` for TikTok to fetch the video from a domain the app verified."""

    video_url: str

    def source_info(self) -> dict[str, object]:
        return {"source": "PULL_FROM_URL", "video_url": self.video_url}


Source = ChunkPlan | PullFromUrl


@dataclass(frozen=True)
class InitResult:
    publish_id: str
    upload_url: str | None

    def __repr__(self) -> str:
        # the upload URL carries a one-time upload token
        return f"InitResult(publish_id={self.publish_id!r}, upload_url=***)"


@dataclass(frozen=True)
class PublishStatus:
    """`status/fetch`: where the post is."""

    status: str
    fail_reason: str | None
    uploaded_bytes: int | None
    post_ids: tuple[str, ...]

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> PublishStatus:
        # TikTok spells it `publicaly_available_post_id`; accept the correct spelling too
        ids = data.get("publicaly_available_post_id") or data.get("publicly_available_post_id")
        uploaded = data.get("uploaded_bytes")
        return cls(
            status=str(data.get("status") or ""),
            fail_reason=str(data["fail_reason"]) if data.get("fail_reason") else None,
            uploaded_bytes=int(uploaded) if uploaded is not None else None,
            post_ids=tuple(str(i) for i in ids) if isinstance(ids, list) else (),
        )


def classify_upload(response: httpx.Response, endpoint: str) -> Outcome:
    """A chunk PUT: 206 (more to come) or 201 (complete) is success; 5xx and 429 retry."""
    status = response.status_code
    if status in (200, 201, 206):
        return Outcome.success(status)
    body = parse_json(response)
    error = body.get("error") if isinstance(body, dict) and body is not NOT_JSON else None
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    message = str(error.get("message") or "") if isinstance(error, dict) else ""
    log_id = error.get("log_id") if isinstance(error, dict) else None
    code = code or f"http_{status}"
    if status == 429:
        return throttled(response, endpoint, code, message, log_id=log_id)
    if status >= 500:
        return server_failed(response, endpoint, code, message, log_id=log_id)
    return Outcome.fail(
        ApiError(endpoint, code, message, method="PUT", log_id=log_id, http_status=status)
    )


def _mapping(endpoint: str, data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ApiError(endpoint, "malformed_response", "expected a JSON object", method="POST")
    return data


class PostingClient:
    """Posts videos for one Login Kit user.

    Example:
        client = PostingClient(transport, provider, base_url="https://open.tiktokapis.com")
        creator = client.creator_info()
        plan = plan_chunks(path.stat().st_size)
        init = client.init_direct(PostInfo("hello", "SELF_ONLY"), plan)
        client.upload(init, path, plan, "video/mp4")
        client.fetch_status(init.publish_id)
    """

    def __init__(self, transport: Transport, tokens: TokenProvider, *, base_url: str) -> None:
        self.transport = transport
        self._session = ApiSession(
            transport,
            tokens,
            base_url=base_url,
            auth_headers=lambda token: {"Authorization": f"Bearer {token}"},
            classify=classify_display,
        )

    def creator_info(self) -> CreatorInfo:
        data = self._session.call("POST", CREATOR_INFO, json={})
        return CreatorInfo.from_payload(_mapping(CREATOR_INFO, data))

    def init_direct(self, post_info: PostInfo, source: Source) -> InitResult:
        body = {"post_info": post_info.body(), "source_info": source.source_info()}
        return self._init(DIRECT_INIT, body)

    def init_inbox(self, source: Source) -> InitResult:
        return self._init(INBOX_INIT, {"source_info": source.source_info()})

    def _init(self, endpoint: str, body: dict[str, Any]) -> InitResult:
        data = _mapping(endpoint, self._session.call("POST", endpoint, json=body, idempotent=False))
        publish_id = data.get("publish_id")
        if not publish_id:
            raise ApiError(endpoint, "malformed_response", "no publish_id", method="POST")
        upload_url = data.get("upload_url") or None
        if upload_url:
            # the URL's upload token authorizes the PUTs: never in a log or an error
            register_secret(str(upload_url))
            for token in parse_qs(urlsplit(str(upload_url)).query).get("upload_token", ()):
                register_secret(token)
        return InitResult(str(publish_id), str(upload_url) if upload_url else None)

    def upload(
        self,
        init: InitResult,
        path: Path,
        plan: ChunkPlan,
        content_type: str,
        *,
        start_chunk: int = 0,
        on_chunk: ChunkDone | None = None,
    ) -> int:
        """PUT the chunks from `start_chunk` on, in order; the last HTTP status (201 when done)."""
        if not init.upload_url:
            raise ValueError("this init has no upload_url (PULL_FROM_URL?)")
        status = 0
        with path.open("rb") as video:
            for chunk in plan.chunks():
                if chunk.index < start_chunk:
                    continue
                video.seek(chunk.first)
                content = video.read(chunk.length)
                if len(content) != chunk.length:
                    raise ValueError(f"{path.name} changed while uploading (short read)")
                reply = self.transport.send(
                    "PUT",
                    init.upload_url,
                    endpoint=UPLOAD,
                    classify=classify_upload,
                    headers={
                        "Content-Type": content_type,
                        "Content-Length": str(chunk.length),
                        "Content-Range": chunk.content_range,
                    },
                    content=content,
                )
                status = int(reply.payload)
                if on_chunk is not None:
                    on_chunk(chunk)
        return status

    def fetch_status(self, publish_id: str) -> PublishStatus:
        data = self._session.call("POST", STATUS_FETCH, json={"publish_id": publish_id})
        return PublishStatus.from_payload(_mapping(STATUS_FETCH, data))
