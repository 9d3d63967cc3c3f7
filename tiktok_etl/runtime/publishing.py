"""Publishing one video: local checks, the creator's rules, the limits, init, upload, status.

`Publisher.publish` runs the steps in the order that refuses as early and as cheaply as
possible, and records the attempt in ``tiktok_posts`` before TikTok is asked to create it:

1. the token's scopes (`video.publish` for a direct post, `video.upload` for the inbox);
2. the file's header (container, codec, size, duration, cover timestamp), before any request;
3. `creator_info` (direct posts): privacy level among the creator's options, duet / stitch /
   comment only where the creator allows them, duration within the creator's maximum;
   an unaudited app may only post `SELF_ONLY`;
4. the daily limit per creator (from ``tiktok_posts``), then an init slot (6 per minute per
   token, shared through PostgreSQL; waits up to a cap);
5. init, chunked upload (each acknowledged chunk's bytes recorded), status polling with a
   growing, capped interval until `PUBLISH_COMPLETE`, `SEND_TO_USER_INBOX` or `FAILED`.

A refusal is a `PostingRefused` (or `PostingLimited`) whose message says what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from tiktok_etl.api.chunking import MB, Chunk, ChunkPlan, plan_chunks
from tiktok_etl.api.clock import Clock
from tiktok_etl.api.errors import ApiError, PostingLimited, PostingRefused, TikTokError
from tiktok_etl.api.media import check_video, probe
from tiktok_etl.api.posting import (
    PRIVACY_LEVELS,
    CreatorInfo,
    InitResult,
    PostInfo,
    PostingClient,
    PublishStatus,
    PullFromUrl,
)
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.storage.posts import PostInitLimiter, PostRecord, PostStore

MAX_TITLE_CHARS = 2200
DAY = timedelta(hours=24)
SELF_ONLY = "SELF_ONLY"

Progress = Callable[[int, int], None]

# what to tell the user for TikTok's posting error codes
_REFUSALS: dict[str, str] = {
    "spam_risk_too_many_posts": "TikTok says the creator has posted too much today "
    "(about 15 posts a day across all apps); try again tomorrow",
    "spam_risk_user_banned_from_posting": "TikTok has banned this creator from posting",
    "privacy_level_option_mismatch": "TikTok refused the privacy level: use one of the "
    "creator's options (see `tiktok-etl posts creator --account K`)",
    "unaudited_client_can_only_post_to_private_accounts": "this app is not audited by "
    "TikTok: it may only post SELF_ONLY (set TIKTOK_ETL_POSTING_AUDITED=1 once it is)",
    "url_ownership_unverified": "the --url domain is not verified for this app in TikTok's "
    "developer portal",
    "rate_limit_exceeded": "TikTok's limit of 6 init requests per minute is spent; retry "
    "in a minute",
}


@dataclass(frozen=True)
class PublishRequest:
    """What to post and how; `path` for FILE_UPLOAD or `video_url` for PULL_FROM_URL."""

    title: str = ""
    privacy: str = SELF_ONLY
    path: Path | None = None
    video_url: str | None = None
    inbox: bool = False
    cover_ms: int | None = None
    disable_duet: bool = False
    disable_comment: bool = False
    disable_stitch: bool = False
    brand_content: bool = False
    brand_organic: bool = False
    is_aigc: bool = False

    @property
    def mode(self) -> str:
        return "inbox" if self.inbox else "direct"


def check_rules(request: PublishRequest, creator: CreatorInfo, *, audited: bool) -> None:
    """Refuse what the creator (or an unaudited app) does not allow, listing what is allowed."""
    allowed = creator.privacy_level_options or PRIVACY_LEVELS
    if request.privacy not in allowed:
        raise PostingRefused(
            f"privacy {request.privacy} is not one of this creator's options: {', '.join(allowed)}",
            code="privacy_level_option_mismatch",
        )
    if not audited and request.privacy != SELF_ONLY:
        raise PostingRefused(
            f"privacy {request.privacy}: an app TikTok has not audited may only post "
            "SELF_ONLY (use --privacy SELF_ONLY, or set TIKTOK_ETL_POSTING_AUDITED=1 once "
            "TikTok has audited the app)",
            code="unaudited_client_can_only_post_to_private_accounts",
        )
    off = [
        (flag, name)
        for disabled_by_creator, wanted_off, flag, name in (
            (creator.duet_disabled, request.disable_duet, "--no-duet", "duets"),
            (creator.stitch_disabled, request.disable_stitch, "--no-stitch", "stitches"),
            (creator.comment_disabled, request.disable_comment, "--no-comment", "comments"),
        )
        if disabled_by_creator and not wanted_off
    ]
    if off:
        raise PostingRefused(
            f"the creator has turned off {', '.join(n for _, n in off)} in TikTok: "
            f"pass {' '.join(f for f, _ in off)}"
        )


class Publisher:
    """Posts videos for one account; see the module docstring for the order of checks."""

    def __init__(
        self,
        client: PostingClient,
        posts: PostStore,
        limiter: PostInitLimiter,
        clock: Clock,
        *,
        account_key: str,
        scopes: tuple[str, ...] = (),
        audited: bool = False,
        daily_limit: int = 15,
        chunk_size: int = 10 * MB,
        poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
        status_timeout: float = 600.0,
    ) -> None:
        self.client = client
        self.posts = posts
        self.limiter = limiter
        self.clock = clock
        self.account_key = account_key
        self.scopes = scopes
        self.audited = audited
        self.daily_limit = daily_limit
        self.chunk_size = chunk_size
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.status_timeout = status_timeout

    def _check_scope(self, request: PublishRequest) -> None:
        needed = "video.upload" if request.inbox else "video.publish"
        if self.scopes and needed not in self.scopes:
            raise PostingRefused(
                f"account {self.account_key}: the token lacks scope {needed} (granted: "
                f"{', '.join(self.scopes)}); authorize it again with that scope: tiktok-etl "
                f"auth login --api display --key {self.account_key} --scopes "
                f"{','.join((*self.scopes, needed))}",
                code="scope_not_authorized",
            )

    def _check_daily_limit(self) -> None:
        now = self.clock.now()
        count, oldest = self.posts.posts_since(self.account_key, now - DAY)
        if count >= self.daily_limit:
            retry_at = (oldest + DAY) if oldest is not None else now + DAY
            raise PostingLimited(
                f"account {self.account_key}: {count} posts in the last 24 hours reach the "
                f"limit of {self.daily_limit} (TIKTOK_ETL_POSTING_DAILY_LIMIT); retry after "
                f"{retry_at:%Y-%m-%d %H:%M:%S} UTC",
                code="spam_risk_too_many_posts",
                retry_at=retry_at,
            )

    def publish(self, request: PublishRequest, on_progress: Progress | None = None) -> PostRecord:
        """Post the video and follow it to a final status (or the status timeout)."""
        if (request.path is None) == (request.video_url is None):
            raise PostingRefused("give either a video file or --url, not both or neither")
        if len(request.title) > MAX_TITLE_CHARS:
            raise PostingRefused(f"the title is over {MAX_TITLE_CHARS} characters")
        if request.privacy not in PRIVACY_LEVELS:
            raise PostingRefused(
                f"privacy {request.privacy} is not one of {', '.join(PRIVACY_LEVELS)}"
            )
        if request.brand_content and request.privacy == SELF_ONLY and not request.inbox:
            # TikTok: branded content visibility cannot be set to private
            raise PostingRefused(
                "branded content cannot be SELF_ONLY: choose another --privacy, or drop "
                "--brand-content"
            )
        self._check_scope(request)
        facts = None
        if request.path is not None:
            facts = probe(request.path)
            check_video(facts, cover_ms=request.cover_ms)
        elif not str(request.video_url).startswith("https://"):
            raise PostingRefused("--url must be an https:// URL on a domain verified for the app")
        if not request.inbox:
            creator = self.client.creator_info()
            if facts is not None:
                check_video(
                    facts,
                    max_duration_sec=creator.max_video_post_duration_sec,
                    cover_ms=request.cover_ms,
                )
            check_rules(request, creator, audited=self.audited)
        self._check_daily_limit()
        plan: ChunkPlan | None = plan_chunks(facts.size, self.chunk_size) if facts else None
        post_key = self.posts.start(
            account_key=self.account_key,
            mode=request.mode,
            source="FILE_UPLOAD" if plan else "PULL_FROM_URL",
            title=None if request.inbox else request.title,
            privacy=None if request.inbox else request.privacy,
            file_name=request.path.name if request.path else request.video_url,
            video_size=plan.video_size if plan else None,
            chunk_count=plan.total_chunk_count if plan else None,
            now=self.clock.now(),
        )
        try:
            self.limiter.acquire(self.account_key)
        except PostingLimited as exc:
            self.posts.update(post_key, self.clock.now(), status="FAILED", fail_reason=exc.code)
            raise
        init = self._init(post_key, request, plan)
        if plan is not None and facts is not None and request.path is not None:
            self._upload(post_key, init, request.path, plan, facts.mime_type, on_progress)
        return self.wait(post_key, init.publish_id)

    def _init(self, post_key: int, request: PublishRequest, plan: ChunkPlan | None) -> InitResult:
        source = plan if plan is not None else PullFromUrl(str(request.video_url))
        try:
            if request.inbox:
                init = self.client.init_inbox(source)
            else:
                post_info = PostInfo(
                    title=request.title,
                    privacy_level=request.privacy,
                    disable_duet=request.disable_duet,
                    disable_comment=request.disable_comment,
                    disable_stitch=request.disable_stitch,
                    video_cover_timestamp_ms=request.cover_ms,
                    brand_content_toggle=request.brand_content,
                    brand_organic_toggle=request.brand_organic,
                    is_aigc=request.is_aigc,
                )
                init = self.client.init_direct(post_info, source)
        except ApiError as exc:
            # TikTok answered: nothing was created
            self.posts.update(post_key, self.clock.now(), status="FAILED", fail_reason=exc.code)
            fix = _REFUSALS.get(exc.code)
            if fix is None:
                raise
            kind = PostingLimited if exc.code.startswith(("spam_risk", "rate_")) else PostingRefused
            raise kind(f"{exc}; {fix}", code=exc.code) from None
        except TikTokError as exc:
            # the answer was lost: TikTok may have created the post, so it keeps counting
            self.posts.update(
                post_key, self.clock.now(), fail_reason=f"init outcome unknown: {exc}"
            )
            raise
        status = "PROCESSING_UPLOAD" if plan is not None else "PROCESSING_DOWNLOAD"
        self.posts.update(post_key, self.clock.now(), publish_id=init.publish_id, status=status)
        return init

    def _upload(
        self,
        post_key: int,
        init: InitResult,
        path: Path,
        plan: ChunkPlan,
        content_type: str,
        on_progress: Progress | None,
    ) -> None:
        def acknowledged(chunk: Chunk) -> None:
            done = chunk.last + 1
            self.posts.update(post_key, self.clock.now(), uploaded_bytes=done)
            if on_progress is not None:
                on_progress(done, plan.video_size)

        try:
            self.client.upload(init, path, plan, content_type, on_chunk=acknowledged)
        except TikTokError as exc:
            self.posts.update(post_key, self.clock.now(), fail_reason=f"upload stopped: {exc}")
            raise

    def record_status(self, post_key: int, status: PublishStatus) -> None:
        changes: dict[str, object] = {"status": status.status, "fail_reason": status.fail_reason}
        if status.uploaded_bytes is not None:
            changes["uploaded_bytes"] = status.uploaded_bytes
        if status.post_ids:
            changes["post_ids"] = status.post_ids
        self.posts.update(post_key, self.clock.now(), **changes)

    def wait(self, post_key: int, publish_id: str) -> PostRecord:
        """Poll `status/fetch` until a final status or `status_timeout`; the recorded post."""
        interval = self.poll_interval
        waited = 0.0
        while True:
            status = self.client.fetch_status(publish_id)
            self.record_status(post_key, status)
            if status.final or waited >= self.status_timeout:
                break
            pause = min(interval, self.status_timeout - waited)
            self.clock.sleep(pause)
            waited += pause
            interval = min(interval * 2, self.max_poll_interval)
        record = self.posts.get(post_key)
        assert record is not None
        return record


def open_publisher(connector: Connector, account_key: str) -> Publisher:
    """A publisher for a stored Display account, with its refreshing token provider."""
    runtime = connector.runtime
    settings = runtime.settings
    account = runtime.accounts.get(account_key)
    if account.api != "display":
        raise PostingRefused(
            f"account {account_key} is a {account.api} account; posting videos needs a Display "
            "(Login Kit) account with scope video.publish or video.upload"
        )
    stored = runtime.tokens.load(account_key)
    client = PostingClient(
        connector.transport,
        connector.token_provider(account),
        base_url=settings.display_api_base_url,
    )
    clock = connector.transport.clock
    limiter = PostInitLimiter(
        runtime.engine,
        clock,
        limit=settings.posting_inits_per_minute,
        max_wait=float(settings.posting_max_wait_seconds),
    )
    return Publisher(
        client,
        PostStore(runtime.engine),
        limiter,
        clock,
        account_key=account_key,
        scopes=tuple(stored.scopes) if stored else (),
        audited=settings.posting_audited,
        daily_limit=settings.posting_daily_limit,
        chunk_size=settings.posting_chunk_mb * MB,
    )
