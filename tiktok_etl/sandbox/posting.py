"""Content Posting API routes of the sandbox: creator info, inits, chunk PUTs, status.

Strict where TikTok is documented to be: `total_chunk_count == floor(video_size /
chunk_size)`, chunks of 5-64 MiB (the last one takes the remainder, up to 128 MiB; a video
under 5 MiB is one chunk of its own size; 1-1,000 chunks), PUTs in order with a
`Content-Range: bytes first-last/total` that matches the next chunk exactly (416 if not),
and a matching `Content-Length`. A chunk sent again (a client resuming after a dropped
connection) is accepted. Limits: 6 inits per minute per access token
(`rate_limit_exceeded`), 15 posts per creator per 24 h (`spam_risk_too_many_posts`), an
unaudited app may only post `SELF_ONLY`. Status moves over sandbox time: the upload (or
download) is processed `processing_seconds` after it completed, then `PUBLISH_COMPLETE`
(the video joins the creator's Display video list) or `SEND_TO_USER_INBOX`, or `FAILED`
with `fail_reason` when `fail_next` says so.

Tests steer the desk directly (`app.posting`): creators' settings, `audited`,
`drop_chunks` (drop the connection on those chunk indexes once, optionally after storing
the chunk), `fail_next`.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from tiktok_etl.sandbox.context import ApiFailure, RequestContext, Route, Style
from tiktok_etl.sandbox.faults import DroppedConnection

if TYPE_CHECKING:
    from tiktok_etl.sandbox.world import SandboxWorld

MIB = 1024 * 1024
PRIVACY = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
MIME_TYPES = ("video/mp4", "video/quicktime", "video/webm")
UPLOAD_PATH = "/upload/video/"
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


@dataclass
class CreatorSettings:
    privacy_level_options: tuple[str, ...] = PRIVACY
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = False
    max_video_post_duration_sec: int = 600


@dataclass
class Upload:
    publish_id: str
    open_id: str
    mode: str
    title: str
    video_size: int
    chunk_size: int
    total_chunk_count: int
    upload_token: str
    created: int
    received: int = 0
    chunks_done: int = 0
    puts: list[str] = field(default_factory=list)
    completed_at: int | None = None
    fail_reason: str | None = None
    post_id: str | None = None

    def chunk_bounds(self, index: int) -> tuple[int, int]:
        first = index * self.chunk_size
        last = (
            self.video_size - 1
            if index == self.total_chunk_count - 1
            else first + self.chunk_size - 1
        )
        return first, last


class PostingDesk:
    """The sandbox's posting state: uploads, limits and the knobs tests turn."""

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.creators: dict[str, CreatorSettings] = {}
        self.audited = False
        self.processing_seconds = 5
        self.inits_per_minute = 6
        self.posts_per_day = 15
        self.drop_chunks: dict[int, bool] = {}
        self.fail_next: str | None = None
        self.uploads: dict[str, Upload] = {}
        self.inits: list[tuple[str, int]] = []
        self._init_times: dict[str, deque[int]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    def creator(self, open_id: str) -> CreatorSettings:
        return self.creators.setdefault(open_id, CreatorSettings())

    # routes

    def creator_info(self, ctx: RequestContext) -> httpx.Response:
        claims = ctx.authenticate()
        _require_scope(ctx, claims.scopes, "video.publish")
        settings = self.creator(claims.open_id)
        account = self.world.account(claims.open_id)
        return ctx.ok(
            {
                "creator_avatar_url": f"https://sandbox.test/avatar/{claims.open_id}.jpg",
                "creator_username": getattr(account, "username", claims.open_id),
                "creator_nickname": getattr(account, "display_name", claims.open_id),
                "privacy_level_options": list(settings.privacy_level_options),
                "comment_disabled": settings.comment_disabled,
                "duet_disabled": settings.duet_disabled,
                "stitch_disabled": settings.stitch_disabled,
                "max_video_post_duration_sec": settings.max_video_post_duration_sec,
            }
        )

    def direct_init(self, ctx: RequestContext) -> httpx.Response:
        return self._init(ctx, "direct")

    def inbox_init(self, ctx: RequestContext) -> httpx.Response:
        return self._init(ctx, "inbox")

    def _init(self, ctx: RequestContext, mode: str) -> httpx.Response:
        claims = ctx.authenticate()
        _require_scope(ctx, claims.scopes, "video.publish" if mode == "direct" else "video.upload")
        body = ctx.json_body()
        token = ctx.request.headers.get("authorization", "")
        with self._lock:
            self._admit_init(ctx, token)
            title = ""
            if mode == "direct":
                title = self._check_post_info(ctx, claims.open_id, body.get("post_info"))
            source = body.get("source_info")
            if not isinstance(source, dict):
                raise ctx.fail("invalid_params", "source_info is required.")
            self._check_daily(ctx, claims.open_id)
            publish_id = f"v_pub_file~v2.{ctx.now}{next(self._ids):06d}"
            if source.get("source") == "FILE_UPLOAD":
                size, chunk, count = _check_chunks(ctx, source)
                upload = Upload(
                    publish_id, claims.open_id, mode, title, size, chunk, count,
                    upload_token=f"upl{next(self._ids):08d}", created=ctx.now,
                )  # fmt: skip
                self.uploads[publish_id] = upload
                self.inits.append((publish_id, ctx.now))
                host = ctx.request.url.copy_with(path=UPLOAD_PATH, query=None)
                url = f"{host}?upload_id={publish_id}&upload_token={upload.upload_token}"
                return ctx.ok({"publish_id": publish_id, "upload_url": url})
            if source.get("source") == "PULL_FROM_URL":
                video_url = source.get("video_url")
                if not isinstance(video_url, str) or not video_url.startswith("https://"):
                    raise ctx.fail("invalid_params", "video_url must be an https URL.")
                if "unverified" in video_url:
                    raise ApiFailure(
                        "url_ownership_unverified",
                        "The domain or URL prefix of video_url is not verified.",
                        403,
                    )
                upload = Upload(
                    publish_id, claims.open_id, mode, title, 0, 0, 0,
                    upload_token="", created=ctx.now, completed_at=ctx.now,
                )  # fmt: skip
                self.uploads[publish_id] = upload
                self.inits.append((publish_id, ctx.now))
                return ctx.ok({"publish_id": publish_id})
            raise ctx.fail(
                "invalid_params", "source_info.source must be FILE_UPLOAD or PULL_FROM_URL."
            )

    def _admit_init(self, ctx: RequestContext, token: str) -> None:
        times = self._init_times.setdefault(token, deque())
        while times and times[0] <= ctx.now - 60:
            times.popleft()
        if len(times) >= self.inits_per_minute:
            raise ctx.fail("throttled", "Init requests are limited to 6 per minute per token.")
        times.append(ctx.now)

    def _check_daily(self, ctx: RequestContext, open_id: str) -> None:
        since = ctx.now - 86_400
        recent = [u for u in self.uploads.values() if u.open_id == open_id and u.created > since]
        if len(recent) >= self.posts_per_day:
            raise ApiFailure(
                "spam_risk_too_many_posts", "The user has reached today's posting cap.", 403
            )

    def _check_post_info(self, ctx: RequestContext, open_id: str, info: Any) -> str:
        if not isinstance(info, dict):
            raise ctx.fail("invalid_params", "post_info is required for a direct post.")
        privacy = info.get("privacy_level")
        if privacy not in PRIVACY:
            raise ctx.fail("invalid_params", "post_info.privacy_level is invalid.")
        settings = self.creator(open_id)
        if privacy not in settings.privacy_level_options:
            raise ApiFailure(
                "privacy_level_option_mismatch",
                "privacy_level is not among the creator's privacy_level_options.",
                400,
            )
        if not self.audited and privacy != "SELF_ONLY":
            raise ApiFailure(
                "unaudited_client_can_only_post_to_private_accounts",
                "Unaudited clients can only post with SELF_ONLY visibility.",
                403,
            )
        for flag, off in (
            ("disable_duet", settings.duet_disabled),
            ("disable_stitch", settings.stitch_disabled),
            ("disable_comment", settings.comment_disabled),
        ):
            if off and info.get(flag) is False:
                raise ctx.fail("invalid_params", f"{flag} must be true for this creator.")
        title = info.get("title") or ""
        if not isinstance(title, str) or len(title) > 2200:
            raise ctx.fail("invalid_params", "post_info.title must be at most 2200 characters.")
        return title

    def put_chunk(self, ctx: RequestContext) -> httpx.Response:
        publish_id = ctx.query("upload_id") or ""
        with self._lock:
            upload = self.uploads.get(publish_id)
            if upload is None or ctx.query("upload_token") != upload.upload_token:
                raise ctx.fail("not_found", "Unknown upload_id or upload_token.")
            if upload.completed_at is not None:
                raise ApiFailure("invalid_params", "The upload is already complete.", 400)
            content_type = ctx.request.headers.get("content-type", "")
            if content_type not in MIME_TYPES:
                raise ApiFailure(
                    "invalid_params", f"Content-Type must be one of {', '.join(MIME_TYPES)}.", 400
                )
            match = _RANGE.match(ctx.request.headers.get("content-range", ""))
            if match is None:
                raise ApiFailure(
                    "invalid_params", "Content-Range must be bytes {first}-{last}/{total}.", 400
                )
            first, last, total = (int(g) for g in match.groups())
            body = ctx.request.content
            length = ctx.request.headers.get("content-length")
            if length is not None and int(length) != len(body):
                raise ApiFailure("invalid_params", "Content-Length does not match the body.", 400)
            # the next chunk, or the last acknowledged one again (a resumed upload)
            index = upload.chunks_done
            resend = index > 0 and (first, last) == upload.chunk_bounds(index - 1)
            expected = upload.chunk_bounds(index - 1 if resend else index)
            if (
                total != upload.video_size
                or (first, last) != expected
                or len(body) != (last - first + 1)
            ):
                raise ApiFailure(
                    "range_not_satisfiable",
                    f"Content-Range bytes {first}-{last}/{total} is not the next chunk: "
                    f"expected bytes {expected[0]}-{expected[1]}/{upload.video_size}.",
                    416,
                )
            upload.puts.append(f"{first}-{last}")
            current = index - 1 if resend else index
            drop = self.drop_chunks.pop(current, None)
            if drop is not None and not drop:
                raise DroppedConnection("dropped mid-chunk", request=ctx.request)
            if not resend:
                upload.chunks_done += 1
                upload.received = last + 1
            if drop:
                raise DroppedConnection("dropped after storing the chunk", request=ctx.request)
            if upload.chunks_done == upload.total_chunk_count:
                upload.completed_at = ctx.now
                return httpx.Response(201)
            return httpx.Response(206)

    def status_fetch(self, ctx: RequestContext) -> httpx.Response:
        claims = ctx.authenticate()
        publish_id = ctx.json_body().get("publish_id")
        with self._lock:
            upload = self.uploads.get(str(publish_id))
            if upload is None or upload.open_id != claims.open_id:
                raise ctx.fail("invalid_params", "publish_id not found.")
            return ctx.ok(self._status(upload, ctx.now))

    def _status(self, upload: Upload, now: int) -> dict[str, Any]:
        pulled = upload.video_size == 0
        data: dict[str, Any] = {"status": "", "uploaded_bytes": upload.received}
        if upload.completed_at is None or now < upload.completed_at + self.processing_seconds:
            data["status"] = "PROCESSING_DOWNLOAD" if pulled else "PROCESSING_UPLOAD"
            return data
        if upload.fail_reason is None and self.fail_next is not None and upload.post_id is None:
            upload.fail_reason, self.fail_next = self.fail_next, None
        if upload.fail_reason is not None:
            data.update(status="FAILED", fail_reason=upload.fail_reason)
            return data
        if upload.mode == "inbox":
            data["status"] = "SEND_TO_USER_INBOX"
            return data
        if upload.post_id is None:
            video = self.world.publish_video(
                upload.open_id, upload.completed_at + self.processing_seconds, upload.title
            )
            upload.post_id = video.video_id
        data.update(status="PUBLISH_COMPLETE", publicaly_available_post_id=[upload.post_id])
        return data

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/v2/post/publish/creator_info/query/", Style.DISPLAY, self.creator_info),
            Route("POST", "/v2/post/publish/video/init/", Style.DISPLAY, self.direct_init),
            Route("POST", "/v2/post/publish/inbox/video/init/", Style.DISPLAY, self.inbox_init),
            Route("POST", "/v2/post/publish/status/fetch/", Style.DISPLAY, self.status_fetch),
            Route("PUT", UPLOAD_PATH, Style.DISPLAY, self.put_chunk),
        ]


def _require_scope(ctx: RequestContext, scopes: tuple[str, ...], scope: str) -> None:
    if scope not in scopes:
        raise ctx.fail("forbidden", f"The user did not authorize the scope required: {scope}.")


def _check_chunks(ctx: RequestContext, source: dict[str, Any]) -> tuple[int, int, int]:
    size = ctx.integer(source.get("video_size"), "video_size", 0, low=1)
    chunk = ctx.integer(source.get("chunk_size"), "chunk_size", 0, low=1)
    count = ctx.integer(source.get("total_chunk_count"), "total_chunk_count", 0, low=1)
    if size > 4 * 1024 * MIB:
        raise ctx.fail("invalid_params", "video_size must be at most 4 GB.")
    if size < 5 * MIB:
        if chunk != size or count != 1:
            raise ctx.fail(
                "invalid_params",
                "A video under 5 MB must be one chunk: chunk_size = video_size, "
                "total_chunk_count = 1.",
            )
        return size, chunk, count
    if not 5 * MIB <= chunk <= 64 * MIB or chunk > size:
        raise ctx.fail("invalid_params", "chunk_size must be 5 MB to 64 MB and <= video_size.")
    if count != size // chunk or not 1 <= count <= 1000:
        raise ctx.fail(
            "invalid_params",
            f"total_chunk_count must be floor(video_size / chunk_size) = {size // chunk} "
            "(1 to 1000).",
        )
    if size - (count - 1) * chunk > 128 * MIB:
        raise ctx.fail("invalid_params", "The last chunk must be at most 128 MB.")
    return size, chunk, count
