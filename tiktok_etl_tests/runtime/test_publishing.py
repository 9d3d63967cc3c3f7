"""Publishing against the simulated TikTok over real sockets, with a real PostgreSQL.

One `SharedClock` drives the client (polling, backoff, the init limiter) and the sandbox
(status transitions, its own limits), so nothing sleeps for real.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tiktok_etl.api import DisplayClient, ManualClock, RetryPolicy, StaticTokenProvider, Transport
from tiktok_etl.api.chunking import MB, plan_chunks
from tiktok_etl.api.errors import ApiError, MediaRejected, PostingLimited, PostingRefused
from tiktok_etl.api.posting import PostInfo, PostingClient
from tiktok_etl.ingest.sources import AccountSource
from tiktok_etl.ingest.videos import fetch_videos
from tiktok_etl.ingest.window import DayWindow
from tiktok_etl.runtime.publishing import Publisher, PublishRequest
from tiktok_etl.sandbox import DISPLAY_SCOPES_ALL, SandboxApp, SandboxServer, build_sandbox
from tiktok_etl.storage.accounts import Account
from tiktok_etl.storage.posts import PostInitLimiter, PostStore
from tiktok_etl_tests.api.against_sandbox.helpers import START, SharedClock
from tiktok_etl_tests.videos import encode_video

OPEN_ID = "creator-1"
ACCOUNT = "creator_1"
SCOPES = (*DISPLAY_SCOPES_ALL, "video.publish", "video.upload")


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    return {
        # about 33 MB of barely compressible frames: 3 chunks of 10 MiB, the last bigger
        "big": encode_video(folder / "big.mp4", seconds=4),
        "small": encode_video(folder / "small.mov", seconds=3.5, width=64, height=64),
        "short": encode_video(folder / "short.mp4", seconds=2, width=64, height=64),
        "long": encode_video(
            folder / "long.mp4", seconds=601, fps=1, width=16, height=16, noise=False
        ),
        "mkv": encode_video(
            folder / "clip.mkv", seconds=4, width=64, height=64, container="matroska"
        ),
    }


@pytest.fixture
def clock() -> SharedClock:
    return SharedClock(START)


@pytest.fixture
def app(clock: SharedClock) -> SandboxApp:
    return build_sandbox(seed=7, clock=clock, history_days=5, videos_per_day=(0, 1))


@pytest.fixture
def server(app: SandboxApp) -> Iterator[SandboxServer]:
    with SandboxServer(app) as served:
        yield served


def _transport(clock: SharedClock, http_transport: httpx.BaseTransport | None = None) -> Transport:
    retry = RetryPolicy(max_attempts=5, base_delay=0.5, max_total_wait=120, rng=random.Random(3))
    return Transport(clock=clock, retry=retry, timeout=30.0, http_transport=http_transport)


def _token(app: SandboxApp, scopes: tuple[str, ...] = SCOPES) -> str:
    return str(app.issue_tokens(OPEN_ID, "display", scopes)["access_token"])


def _publisher(
    engine: sa.Engine,
    base_url: str,
    token: str,
    clock: SharedClock,
    *,
    scopes: tuple[str, ...] = SCOPES,
    audited: bool = False,
    http_transport: httpx.BaseTransport | None = None,
) -> Publisher:
    client = PostingClient(
        _transport(clock, http_transport), StaticTokenProvider(token), base_url=base_url
    )
    limiter = PostInitLimiter(engine, clock, limit=6, max_wait=120)
    return Publisher(
        client, PostStore(engine), limiter, clock, account_key=ACCOUNT, scopes=scopes,
        audited=audited, chunk_size=10 * MB,
    )  # fmt: skip


def test_a_30_mb_video_goes_from_init_to_publish_complete_in_chunks(
    engine: sa.Engine, app: SandboxApp, server: SandboxServer, clock: SharedClock,
    videos: dict[str, Path],
) -> None:  # fmt: skip
    token = _token(app)
    publisher = _publisher(engine, server.base_url, token, clock)
    seen: list[int] = []
    record = publisher.publish(
        PublishRequest(title="launch day", privacy="SELF_ONLY", path=videos["big"]),
        on_progress=lambda done, total: seen.append(done),
    )
    size = videos["big"].stat().st_size
    assert size >= 30 * MB
    plan = plan_chunks(size, 10 * MB)
    assert plan.total_chunk_count == 3
    assert record.status == "PUBLISH_COMPLETE"
    assert (record.video_size, record.chunk_count, record.uploaded_bytes) == (size, 3, size)
    upload = app.posting.uploads[str(record.publish_id)]
    assert upload.puts == [f"{c.first}-{c.last}" for c in plan.chunks()]
    assert seen == [c.last + 1 for c in plan.chunks()]
    # TikTok lists the published video: the tiktok_videos read of its day returns it
    (post_id,) = record.post_ids
    display = DisplayClient(_transport(clock), StaticTokenProvider(token), base_url=server.base_url)
    source = AccountSource(account=Account(ACCOUNT, "display", OPEN_ID), display=display)
    fetched = fetch_videos(source, DayWindow(clock.now().date()), clock.now())
    rows = {row["video_id"]: row for row in fetched.rows}
    assert rows[post_id]["title"] == "launch day"


def test_a_dropped_connection_mid_chunk_resends_that_chunk_only(
    engine: sa.Engine, app: SandboxApp, server: SandboxServer, clock: SharedClock,
    videos: dict[str, Path],
) -> None:  # fmt: skip
    # chunk 1 is lost before the server stored it, chunk 2 after: both are sent again
    app.posting.drop_chunks = {1: False, 2: True}
    record = _publisher(engine, server.base_url, _token(app), clock).publish(
        PublishRequest(title="resumed", path=videos["big"])
    )
    plan = plan_chunks(videos["big"].stat().st_size, 10 * MB)
    ranges = [f"{c.first}-{c.last}" for c in plan.chunks()]
    upload = app.posting.uploads[str(record.publish_id)]
    assert upload.puts == [ranges[0], ranges[1], ranges[1], ranges[2], ranges[2]]
    assert len(app.posting.inits) == 1
    assert record.status == "PUBLISH_COMPLETE"


def test_a_wrong_content_range_is_refused_with_416(
    app: SandboxApp, server: SandboxServer, clock: SharedClock, videos: dict[str, Path]
) -> None:
    client = PostingClient(
        _transport(clock), StaticTokenProvider(_token(app)), base_url=server.base_url
    )
    plan = plan_chunks(videos["big"].stat().st_size, 10 * MB)
    init = client.init_direct(PostInfo("skip", "SELF_ONLY"), plan)
    with pytest.raises(ApiError) as refused:
        # chunk 1 before chunk 0: not the next range
        client.upload(init, videos["big"], plan, "video/mp4", start_chunk=1)
    assert refused.value.http_status == 416
    assert refused.value.code == "range_not_satisfiable"
    assert app.posting.uploads[init.publish_id].received == 0


def test_the_sandbox_refuses_an_init_whose_chunk_count_is_not_the_floor(
    app: SandboxApp, server: SandboxServer
) -> None:
    response = httpx.post(
        f"{server.base_url}/v2/post/publish/inbox/video/init/",
        headers={"Authorization": f"Bearer {_token(app)}"},
        json={"source_info": {"source": "FILE_UPLOAD", "video_size": 50_000_123,
                              "chunk_size": 10_000_000, "total_chunk_count": 6}},
    )  # fmt: skip
    assert response.status_code == 400
    assert "floor(video_size / chunk_size) = 5" in response.json()["error"]["message"]


def test_the_init_limiter_waits_for_a_slot_then_refuses_past_its_cap(engine: sa.Engine) -> None:
    clock = ManualClock(START)
    limiter = PostInitLimiter(engine, clock, limit=6, window_seconds=60, max_wait=45)
    for _ in range(6):
        assert limiter.acquire(ACCOUNT) == 0
        clock.advance(5)
    # the oldest init (t=0) leaves the window at t=60; it is t=30 now: a 30 s wait fits
    assert limiter.acquire(ACCOUNT) == pytest.approx(30)
    assert clock.sleeps == [pytest.approx(30)]
    # t=60 and six inits since t=5: the next slot frees at t=65 (5 s), within the cap
    assert limiter.acquire(ACCOUNT) == pytest.approx(5)
    # t=65, slots taken at 10..25, 60, 65: the next one frees at t=70, but the cap is spent
    tight = PostInitLimiter(engine, clock, limit=6, window_seconds=60, max_wait=1)
    with pytest.raises(PostingLimited, match=r"retry after 2026-11-05 12:01:10 UTC"):
        tight.acquire(ACCOUNT)
    # another account has its own budget
    assert tight.acquire("other") == 0


def test_the_sandbox_refuses_a_seventh_init_in_a_minute(
    app: SandboxApp, server: SandboxServer
) -> None:
    token = _token(app)
    body = {"source_info": {"source": "PULL_FROM_URL", "video_url": "https://cdn.example/v.mp4"}}
    codes = [
        httpx.post(
            f"{server.base_url}/v2/post/publish/inbox/video/init/",
            headers={"Authorization": f"Bearer {token}"},
            json=body,
        ).json()["error"]["code"]
        for _ in range(7)
    ]
    assert codes == ["ok"] * 6 + ["rate_limit_exceeded"]


def test_an_unaudited_app_may_only_post_self_only(
    engine: sa.Engine, app: SandboxApp, server: SandboxServer, clock: SharedClock,
    videos: dict[str, Path],
) -> None:  # fmt: skip
    publisher = _publisher(engine, server.base_url, _token(app), clock, audited=False)
    with pytest.raises(PostingRefused, match="may only post SELF_ONLY"):
        publisher.publish(
            PublishRequest(title="x", privacy="PUBLIC_TO_EVERYONE", path=videos["small"])
        )
    assert app.posting.inits == []
    # configured as audited while TikTok says it is not: TikTok's refusal, explained
    audited = _publisher(engine, server.base_url, _token(app), clock, audited=True)
    with pytest.raises(PostingRefused, match="it may only post SELF_ONLY") as refused:
        audited.publish(
            PublishRequest(title="x", privacy="PUBLIC_TO_EVERYONE", path=videos["small"])
        )
    assert refused.value.code == "unaudited_client_can_only_post_to_private_accounts"
    (failed,) = PostStore(engine).recent(ACCOUNT)
    assert (failed.status, failed.fail_reason) == ("FAILED", refused.value.code)


def test_options_the_creator_does_not_allow_are_refused_before_upload(
    engine: sa.Engine, app: SandboxApp, server: SandboxServer, clock: SharedClock,
    videos: dict[str, Path],
) -> None:  # fmt: skip
    creator = app.posting.creator(OPEN_ID)
    creator.duet_disabled = True
    creator.privacy_level_options = ("FOLLOWER_OF_CREATOR", "SELF_ONLY")
    publisher = _publisher(engine, server.base_url, _token(app), clock, audited=True)
    with pytest.raises(PostingRefused, match="turned off duets in TikTok: pass --no-duet"):
        publisher.publish(PublishRequest(title="x", path=videos["small"]))
    with pytest.raises(PostingRefused, match="options: FOLLOWER_OF_CREATOR, SELF_ONLY"):
        publisher.publish(
            PublishRequest(title="x", privacy="PUBLIC_TO_EVERYONE", path=videos["small"],
                           disable_duet=True)
        )  # fmt: skip
    assert app.posting.inits == []
    record = publisher.publish(PublishRequest(title="ok", path=videos["small"], disable_duet=True))
    assert record.status == "PUBLISH_COMPLETE"


class _NoNetwork(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request may be sent, got {request.method} {request.url.path}")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("short", "2.0 s is shorter than 3 s"),
        ("long", "601.0 s is longer than 10 min"),
        ("mkv", "container Matroska is not a video TikTok accepts"),
    ],
)
def test_a_video_tiktok_would_refuse_is_refused_before_any_request(
    engine: sa.Engine, clock: SharedClock, videos: dict[str, Path], name: str, problem: str
) -> None:
    publisher = _publisher(
        engine, "https://open.tiktokapis.com", "act.x", clock, http_transport=_NoNetwork()
    )
    with pytest.raises(MediaRejected, match=problem):
        publisher.publish(PublishRequest(title="x", path=videos[name]))
    assert PostStore(engine).recent(ACCOUNT) == []


def test_a_cover_timestamp_outside_the_video_is_refused(
    engine: sa.Engine, clock: SharedClock, videos: dict[str, Path]
) -> None:
    publisher = _publisher(
        engine, "https://open.tiktokapis.com", "act.x", clock, http_transport=_NoNetwork()
    )
    cover = r"--cover-ms 9000 is outside the video \(0..34\d\d ms\)"
    with pytest.raises(MediaRejected, match=cover):
        publisher.publish(PublishRequest(title="x", path=videos["small"], cover_ms=9000))


def test_a_video_longer_than_the_creator_may_post_is_refused(
    engine: sa.Engine, app: SandboxApp, server: SandboxServer, clock: SharedClock,
    videos: dict[str, Path],
) -> None:  # fmt: skip
    app.posting.creator(OPEN_ID).max_video_post_duration_sec = 3
    publisher = _publisher(engine, server.base_url, _token(app), clock)
    with pytest.raises(MediaRejected, match=r"longer than this creator may post \(3 s\)"):
        publisher.publish(PublishRequest(title="x", path=videos["small"]))
    assert app.posting.inits == []


def test_a_token_without_the_publish_scope_is_told_to_reauthorize(
    engine: sa.Engine, clock: SharedClock, videos: dict[str, Path]
) -> None:
    publisher = _publisher(
        engine, "https://open.tiktokapis.com", "act.x", clock, scopes=DISPLAY_SCOPES_ALL,
        http_transport=_NoNetwork(),
    )  # fmt: skip
    with pytest.raises(PostingRefused, match=r"lacks scope video.publish .*tiktok-etl auth login"):
        publisher.publish(PublishRequest(title="x", path=videos["small"]))


def test_the_daily_limit_is_counted_from_our_posts(
    engine: sa.Engine, app: SandboxApp, server: SandboxServer, clock: SharedClock,
    videos: dict[str, Path],
) -> None:  # fmt: skip
    store = PostStore(engine)
    for _ in range(15):
        store.start(account_key=ACCOUNT, mode="direct", source="FILE_UPLOAD", title="t",
                    privacy="SELF_ONLY", file_name="f.mp4", video_size=1, chunk_count=1,
                    now=clock.now())  # fmt: skip
    publisher = _publisher(engine, server.base_url, _token(app), clock)
    with pytest.raises(PostingLimited, match="15 posts in the last 24 hours") as refused:
        publisher.publish(PublishRequest(title="x", path=videos["small"]))
    assert refused.value.retry_at is not None
    assert app.posting.inits == []


def test_tiktoks_too_many_posts_answer_is_a_clear_refusal(
    engine: sa.Engine, app: SandboxApp, server: SandboxServer, clock: SharedClock,
    videos: dict[str, Path],
) -> None:  # fmt: skip
    app.posting.posts_per_day = 0
    publisher = _publisher(engine, server.base_url, _token(app), clock)
    with pytest.raises(PostingLimited, match="posted too much today") as refused:
        publisher.publish(PublishRequest(title="x", path=videos["small"]))
    assert refused.value.code == "spam_risk_too_many_posts"


def test_an_inbox_upload_ends_in_the_creators_inbox(
    engine: sa.Engine, app: SandboxApp, server: SandboxServer, clock: SharedClock,
    videos: dict[str, Path],
) -> None:  # fmt: skip
    scopes = (*DISPLAY_SCOPES_ALL, "video.upload")
    publisher = _publisher(engine, server.base_url, _token(app, scopes), clock, scopes=scopes)
    record = publisher.publish(PublishRequest(path=videos["small"], inbox=True))
    assert (record.mode, record.status, record.title) == ("inbox", "SEND_TO_USER_INBOX", None)
    assert record.chunk_count == 1


def test_a_failed_post_is_recorded_with_tiktoks_reason(
    engine: sa.Engine, app: SandboxApp, server: SandboxServer, clock: SharedClock,
    videos: dict[str, Path],
) -> None:  # fmt: skip
    app.posting.fail_next = "file_format_check_failed"
    record = _publisher(engine, server.base_url, _token(app), clock).publish(
        PublishRequest(title="x", path=videos["small"])
    )
    assert (record.status, record.fail_reason) == ("FAILED", "file_format_check_failed")
    assert record.post_ids == ()


def test_pull_from_url_is_followed_to_publish_complete(
    engine: sa.Engine, app: SandboxApp, server: SandboxServer, clock: SharedClock
) -> None:
    record = _publisher(engine, server.base_url, _token(app), clock).publish(
        PublishRequest(title="pulled", video_url="https://cdn.example.com/v.mp4")
    )
    assert (record.source, record.status) == ("PULL_FROM_URL", "PUBLISH_COMPLETE")
    assert record.file_name == "https://cdn.example.com/v.mp4"


def test_branded_content_cannot_be_private(
    engine: sa.Engine, clock: SharedClock, videos: dict[str, Path]
) -> None:
    publisher = _publisher(
        engine, "https://open.tiktokapis.com", "act.x", clock, audited=True,
        http_transport=_NoNetwork(),
    )  # fmt: skip
    with pytest.raises(PostingRefused, match="branded content cannot be SELF_ONLY"):
        publisher.publish(
            PublishRequest(title="x", path=videos["small"], brand_content=True, inbox=False)
        )
