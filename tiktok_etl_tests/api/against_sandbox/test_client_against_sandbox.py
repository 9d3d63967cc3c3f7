"""The TikTok client against the simulated TikTok, over real sockets on 127.0.0.1.

Acceptance criterion: pointed by base URL at a TikTok API double, the client reads every
video and comment of an account exactly once under a mix of 429s, 5xx, HTML 504s and dropped
connections, never exceeds the configured per-endpoint rate, and refreshes a rotated token
once per expiry.

Truth comes from the sandbox's world (`world.videos`, `world.business_videos`,
`world.comments`); the sandbox's own counters (`app.stats.snapshot()`) say what the server
saw: faults injected, rate-limit violations, refresh-token reuse, expired tokens presented.
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tiktok_etl.api import (
    BusinessClient,
    BusinessComment,
    BusinessOAuth,
    CommentRequest,
    DisplayClient,
    DisplayOAuth,
    DisplayVideo,
    ManualClock,
    OAuthError,
    PkcePair,
    RateLimiter,
    ReauthRequired,
    SlidingWindowLimiter,
    StaticTokenProvider,
    TikTokError,
    TokenExpired,
    Transport,
    new_state,
)
from tiktok_etl.api.display import VIDEO_FIELDS as DISPLAY_VIDEO_FIELDS
from tiktok_etl.api.pkce import ChallengeFormat
from tiktok_etl.auth.model import TokenSet
from tiktok_etl.sandbox import (
    BUSINESS_SCOPES_ALL,
    DISPLAY_SCOPES_ALL,
    FaultConfig,
    SandboxApp,
    SandboxClock,
    SandboxServer,
)

from ..refreshing_provider import InMemoryTokenProvider
from .helpers import (
    FAULT_MIX,
    SMALL_WORLD,
    START,
    Latency,
    SharedClock,
    make_transport,
    served,
)

CREATOR = "creator-1"
BUSINESS = "biz-1"
CLIENT_KEY = "client-key-integration"
CLIENT_SECRET = "client-secret-INTEGRATION-0123456789"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
MAX_COMMENT_AGE = timedelta(days=SMALL_WORLD["comment_max_age_days"])
DAY = timedelta(days=1)
EVERYTHING = (START - timedelta(days=SMALL_WORLD["history_days"] + 5), START + DAY)
TOKEN_ENDPOINT = {
    "display": "/v2/oauth/token/",
    "business": "/open_api/v1.3/tt_user/oauth2/refresh_token/",
}
DISPLAY_FAULTS = {"429", "5xx", "html_504", "drop"}


def utc_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


RECENT_DAYS = [utc_day(START.date()) - offset * DAY for offset in range(7, -1, -1)]
COMMENT_WINDOW = (utc_day(date(2026, 11, 1)), utc_day(date(2026, 11, 4)))
WIDE_COMMENT_WINDOW = (COMMENT_WINDOW[0] - 6 * DAY, COMMENT_WINDOW[1])


# --- clients ------------------------------------------------------------------------------


@contextmanager
def display_client(
    app: SandboxApp,
    clock: ManualClock | SharedClock,
    limiter: RateLimiter | None = None,
    latency: Latency | None = None,
) -> Iterator[DisplayClient]:
    tokens = app.issue_tokens(CREATOR, "display")
    with served(app) as server, make_transport(clock, limiter, latency) as transport:
        yield DisplayClient(
            transport,
            StaticTokenProvider(tokens["access_token"]),
            base_url=server.base_url,
            scopes=tokens["scope"].split(","),
        )


@contextmanager
def business_client(
    app: SandboxApp,
    clock: ManualClock | SharedClock,
    limiter: RateLimiter | None = None,
    latency: Latency | None = None,
) -> Iterator[BusinessClient]:
    tokens = app.issue_tokens(BUSINESS, "business")
    with served(app) as server, make_transport(clock, limiter, latency) as transport:
        yield BusinessClient(
            transport,
            StaticTokenProvider(tokens["access_token"]),
            BUSINESS,
            base_url=server.business_base_url,
        )


def frozen_sandbox(make_sandbox: Callable[..., SandboxApp], **options: Any) -> SandboxApp:
    """A sandbox whose clock never moves: the truth data is exactly what it serves."""
    return make_sandbox(clock=SandboxClock(START), **options)


def ids_of(records: Sequence[Any], key: str) -> list[str]:
    return [
        getattr(record, key) if not isinstance(record, dict) else record[key] for record in records
    ]


def read_comments(
    client: BusinessClient, start: datetime, end: datetime, max_workers: int = 8
) -> list[BusinessComment]:
    """Every comment and reply written in `[start, end)`, as a pipeline reads them.

    Comments come only after their video, and at most `comment_max_age_days` later, so the
    videos to look at are those created in `[start - max age, end)`. `comments_for_request`
    reads their comments in the window and the replies under those, `max_workers` videos at
    once on the shared transport; replies in the window to older comments are read with
    `replies_since` under each older parent that has any.
    """
    videos = client.videos_created_between(start - MAX_COMMENT_AGE, end).items
    requests = [CommentRequest(video.item_id, since=start, until=end) for video in videos]
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        results = list(pool.map(client.comments_for_request, requests))
    found = [comment for result in results for comment in result.items]
    for video in videos:
        if video.create_time >= start:
            continue  # its comments all postdate `start`: their replies were read above
        older = client.comments_since(video.item_id, since=video.create_time, until=start)
        for parent in older.items:
            if parent.replies:
                found += client.replies_since(video.item_id, parent.comment_id, start, end).items
    return found


def chronological(comments: Sequence[BusinessComment]) -> list[BusinessComment]:
    return sorted(comments, key=lambda comment: (comment.create_time, comment.comment_id))


# --- 1. Display: every video exactly once through faults -------------------------------------


def display_expected(video: dict[str, Any]) -> dict[str, Any]:
    """The world's video as the client asks for it (its default fields)."""
    return {name: video[name] for name in DISPLAY_VIDEO_FIELDS}


def test_display_all_videos_reads_each_video_once_through_faults(
    make_sandbox: Callable[..., SandboxApp], client_clock: ManualClock
) -> None:
    app = frozen_sandbox(make_sandbox, faults=FAULT_MIX)
    with display_client(app, client_clock) as client:
        result = client.all_videos(max_count=2)

    truth = app.world.videos(CREATOR, *EVERYTHING)
    assert len(truth) > 40
    # newest first, each video once, nothing missing, nothing rejected
    assert ids_of(result.items, "id") == ids_of(truth[::-1], "id")
    assert [video.raw for video in result.items] == [
        display_expected(video) for video in truth[::-1]
    ]
    assert result.rejects == []
    assert set(app.stats.snapshot()["faults"]) >= DISPLAY_FAULTS


def test_display_daily_windows_read_each_day_exactly_through_faults(
    make_sandbox: Callable[..., SandboxApp], client_clock: ManualClock
) -> None:
    app = frozen_sandbox(make_sandbox, faults=FAULT_MIX)
    with display_client(app, client_clock) as client:
        days = [client.videos_created_between(day, day + DAY, max_count=1) for day in RECENT_DAYS]

    read = [video for result in days for video in result.items]
    assert len(read) == len({video.id for video in read}), "a video was read twice"
    for day, result in zip(RECENT_DAYS, days, strict=True):
        truth = app.world.videos(CREATOR, day)
        assert [video.raw for video in result.items] == [
            display_expected(video) for video in truth[::-1]
        ], f"videos of {day:%Y-%m-%d}"
        assert all(day <= video.create_time < day + DAY for video in result.items)
    assert set(app.stats.snapshot()["faults"]) >= DISPLAY_FAULTS


def test_display_reads_under_faults_equal_a_fault_free_read(
    make_sandbox: Callable[..., SandboxApp],
) -> None:
    def read(app: SandboxApp) -> list[list[DisplayVideo]]:
        with display_client(app, ManualClock(START)) as client:
            window = client.videos_created_between(RECENT_DAYS[0], RECENT_DAYS[-1], max_count=4)
            return [client.all_videos(max_count=7).items, window.items]

    faulty_app = frozen_sandbox(make_sandbox, faults=FAULT_MIX)
    faulty, clean = read(faulty_app), read(frozen_sandbox(make_sandbox))

    assert faulty_app.stats.snapshot()["faults_total"] > 0
    assert [[video.raw for video in part] for part in faulty] == [
        [video.raw for video in part] for part in clean
    ]


# --- 2. Business: every video, comment and reply exactly once through faults -----------------


def test_business_videos_read_each_video_once_through_faults(
    make_sandbox: Callable[..., SandboxApp], client_clock: ManualClock
) -> None:
    app = frozen_sandbox(make_sandbox, faults=FAULT_MIX)
    with business_client(app, client_clock) as client:
        everything = client.iter_all_videos(max_count=6)
        days = [client.videos_created_between(day, day + DAY, max_count=5) for day in RECENT_DAYS]

    truth = app.world.business_videos(BUSINESS, *EVERYTHING)[::-1]
    assert ids_of(everything.items, "item_id") == ids_of(truth, "item_id")
    # the world renders the default fields; the client asks for two more, served as well
    for video, expected in zip(everything.items, truth, strict=True):
        assert {name: video.raw[name] for name in expected} == expected
        assert set(video.raw) == set(client.video_fields)
    for day, result in zip(RECENT_DAYS, days, strict=True):
        assert ids_of(result.items, "item_id") == ids_of(
            app.world.business_videos(BUSINESS, day)[::-1], "item_id"
        ), f"videos of {day:%Y-%m-%d}"
    assert set(app.stats.snapshot()["faults"]) >= DISPLAY_FAULTS | {"40100", "50000"}


def test_business_comments_and_replies_are_read_exactly_once_through_faults(
    make_sandbox: Callable[..., SandboxApp], client_clock: ManualClock
) -> None:
    app = frozen_sandbox(make_sandbox, faults=FAULT_MIX)
    with business_client(app, client_clock) as client:
        found = read_comments(client, *COMMENT_WINDOW)

    truth = app.world.comments(BUSINESS, *COMMENT_WINDOW)
    ids = [comment.comment_id for comment in found]
    assert len(ids) == len(set(ids)), "a comment was read twice"
    assert [comment.raw for comment in chronological(found)] == truth
    replies = [comment for comment in truth if "parent_comment_id" in comment]
    older_parents = {
        comment["parent_comment_id"]
        for comment in replies
        if comment["parent_comment_id"] not in {top["comment_id"] for top in truth}
    }
    # the window holds top-level comments, replies, and replies to comments older than it
    assert len(truth) - len(replies) > 20 and len(replies) > 10 and older_parents
    snapshot = app.stats.snapshot()
    assert snapshot["faults_total"] > 20
    assert set(snapshot["faults"]) >= DISPLAY_FAULTS | {"40100", "50000"}


def test_business_reads_under_faults_equal_a_fault_free_read(
    make_sandbox: Callable[..., SandboxApp],
) -> None:
    def read(app: SandboxApp) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        with business_client(app, ManualClock(START)) as client:
            videos = client.iter_all_videos(max_count=9).items
            comments = chronological(read_comments(client, *COMMENT_WINDOW, max_workers=4))
        return [video.raw for video in videos], [comment.raw for comment in comments]

    faulty_app = frozen_sandbox(make_sandbox, faults=replace(FAULT_MIX, seed=23))
    assert read(faulty_app) == read(frozen_sandbox(make_sandbox))
    assert faulty_app.stats.snapshot()["faults_total"] > 20


# --- 3. Rate: the client never exceeds the budget the sandbox enforces ----------------------


def test_client_never_exceeds_the_enforced_per_endpoint_rate_under_faults(
    make_sandbox: Callable[..., SandboxApp], shared_clock: SharedClock
) -> None:
    """One clock for the client's limiter and the sandbox's window: limit 30 a minute.

    The reads need far more than 30 requests on several endpoints, and the faults add
    retries (each one an attempt the limiter must count) and 429s (which push back).
    Requests spend simulated time in flight, sometimes more than a minute: the sandbox
    counts them on arrival.
    """
    limit = 30
    app = make_sandbox(
        clock=shared_clock, faults=replace(FAULT_MIX, rate_limit_per_minute=limit, seed=3)
    )
    limiter = SlidingWindowLimiter(limit, 60.0, clock=shared_clock)
    window = (START - timedelta(days=29), START - DAY)
    latency = Latency(seed=3)
    with display_client(app, shared_clock, limiter, latency) as display:
        videos = display.videos_created_between(*window, max_count=1).items
    with business_client(app, shared_clock, limiter, latency) as business:
        comments = read_comments(business, *COMMENT_WINDOW, max_workers=1)

    snapshot = app.stats.snapshot()
    assert snapshot["rate_limit_violations"] == {}
    busiest = snapshot["max_requests_per_minute"]
    assert all(count <= limit for count in busiest.values()), busiest
    # the budget was the binding constraint: full windows, and minutes of waiting for them
    assert max(busiest.values()) == limit
    assert snapshot["requests"]["/v2/video/list/"] > limit
    assert snapshot["requests"]["/open_api/v1.3/business/comment/list/"] > 2 * limit
    assert shared_clock.elapsed >= 120
    assert snapshot["faults_total"] > 10
    # and everything was still read, once
    assert ids_of(videos, "id") == ids_of(app.world.videos(CREATOR, *window)[::-1], "id")
    assert sorted(comment.comment_id for comment in comments) == sorted(
        comment["comment_id"] for comment in app.world.comments(BUSINESS, *COMMENT_WINDOW)
    )


def test_concurrent_workers_share_the_budget_without_exceeding_it(
    make_sandbox: Callable[..., SandboxApp],
) -> None:
    """Eight comment workers on one limiter (limit 30 a minute), faults included.

    One `SharedClock`, and every request in flight for a while on it: its own simulated
    network time, plus whatever the other seven threads' waits (for the budget, for backoff)
    move the clock meanwhile. So the sandbox counts a request long after the limiter let it
    go, sometimes in a later minute; counting slots at completion keeps every minute within
    the limit. (Counting them at admission, the sandbox saw 32 to 34 in a minute here.)
    """
    limit = 30
    clock = SharedClock(START)
    app = make_sandbox(clock=clock, faults=replace(FAULT_MIX, rate_limit_per_minute=limit, seed=8))
    limiter = SlidingWindowLimiter(limit, 60.0, clock=clock)
    with business_client(app, clock, limiter, Latency(seed=8)) as business:
        comments = read_comments(business, *WIDE_COMMENT_WINDOW)

    snapshot = app.stats.snapshot()
    assert snapshot["rate_limit_violations"] == {}
    busiest = snapshot["max_requests_per_minute"]
    assert all(count <= limit for count in busiest.values()), busiest
    # the budget binds: full minutes (thread timing may leave the busiest one a request short)
    assert max(busiest.values()) >= limit - 2
    assert snapshot["requests"]["/open_api/v1.3/business/comment/list/"] > 3 * limit
    assert snapshot["faults_total"] > 10
    assert sorted(comment.comment_id for comment in comments) == sorted(
        comment["comment_id"] for comment in app.world.comments(BUSINESS, *WIDE_COMMENT_WINDOW)
    )


# --- 4. Tokens: one refresh per expiry, never a reused refresh token ------------------------


def oauth_for(
    family: str, transport: Transport, server: SandboxServer
) -> DisplayOAuth | BusinessOAuth:
    if family == "display":
        return DisplayOAuth(
            transport,
            CLIENT_KEY,
            CLIENT_SECRET,
            api_base_url=server.base_url,
            authorize_url=server.base_url + "/v2/auth/authorize/",
        )
    return BusinessOAuth(
        transport,
        CLIENT_KEY,
        CLIENT_SECRET,
        api_base_url=server.business_base_url,
        authorize_url=server.base_url + "/v2/auth/authorize/",
    )


def data_call(
    family: str, transport: Transport, server: SandboxServer, provider: InMemoryTokenProvider
) -> Callable[[], str]:
    """One authenticated read of the family; returns the account id it answered for."""
    if family == "display":
        display = DisplayClient(transport, provider, base_url=server.base_url)
        return lambda: display.user_info().open_id
    business = BusinessClient(
        transport, provider, provider.tokens.open_id, base_url=server.business_base_url
    )
    return lambda: business.get_profile().business_id


ACCOUNT = {"display": CREATOR, "business": BUSINESS}
TTL = 300  # seconds an access token lives, on both sides' shared clock
STEP = 60  # the clock moves this much between bursts of concurrent requests
BURSTS = 20  # 1,200 s: four access-token lifetimes
THREADS = 8


def run_bursts(call: Callable[[], str], clock: SharedClock) -> list[str]:
    """`BURSTS` rounds of `THREADS` concurrent calls; the clock moves only between rounds."""
    answers: list[str] = []
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for _ in range(BURSTS):
            clock.advance(STEP)
            answers += list(pool.map(lambda _: call(), range(THREADS)))
    return answers


@pytest.mark.parametrize("family", ["display", "business"])
def test_tokens_are_refreshed_once_per_expiry_before_they_expire(
    family: str, make_sandbox: Callable[..., SandboxApp], shared_clock: SharedClock
) -> None:
    app = make_sandbox(clock=shared_clock, access_token_ttl=TTL, strict_rotation=True)
    rotations: list[TokenSet] = []
    with served(app) as server, make_transport(shared_clock) as transport:
        tokens = TokenSet.from_response(
            app.issue_tokens(ACCOUNT[family], family), shared_clock.now()
        )
        provider = InMemoryTokenProvider(
            tokens,
            refresh=oauth_for(family, transport, server).refresh,
            on_rotate=rotations.append,
            clock=shared_clock,
        )
        answers = run_bursts(data_call(family, transport, server, provider), shared_clock)

    snapshot = app.stats.snapshot()
    expiries_crossed = int(shared_clock.elapsed) // TTL
    assert answers == [ACCOUNT[family]] * BURSTS * THREADS
    assert expiries_crossed == 4
    assert len(rotations) == expiries_crossed
    assert snapshot["requests"][TOKEN_ENDPOINT[family]] == expiries_crossed
    assert len({rotated.refresh_token for rotated in rotations}) == 4
    assert snapshot["refresh_token_reuse"] == 0
    assert snapshot["requests_with_expired_token"] == 0


@pytest.mark.parametrize("family", ["display", "business"])
def test_a_token_rejected_as_expired_is_refreshed_once_for_all_threads(
    family: str, make_sandbox: Callable[..., SandboxApp], shared_clock: SharedClock
) -> None:
    """The client believes its first token lives a day; the sandbox expires it after 5 min.

    Every thread that presented the dead token is rejected, yet one refresh serves them all;
    later tokens carry the real lifetime and are refreshed ahead of expiry.
    """
    app = make_sandbox(clock=shared_clock, access_token_ttl=TTL, strict_rotation=True)
    rotations: list[TokenSet] = []
    with served(app) as server, make_transport(shared_clock) as transport:
        issued = {**app.issue_tokens(ACCOUNT[family], family), "expires_in": 86_400}
        provider = InMemoryTokenProvider(
            TokenSet.from_response(issued, shared_clock.now()),
            refresh=oauth_for(family, transport, server).refresh,
            on_rotate=rotations.append,
            clock=shared_clock,
        )
        answers = run_bursts(data_call(family, transport, server, provider), shared_clock)

    snapshot = app.stats.snapshot()
    assert answers == [ACCOUNT[family]] * BURSTS * THREADS
    assert len(rotations) == int(shared_clock.elapsed) // TTL == 4
    assert snapshot["requests"][TOKEN_ENDPOINT[family]] == 4
    assert snapshot["refresh_token_reuse"] == 0
    assert 1 <= snapshot["requests_with_expired_token"] <= THREADS


@pytest.mark.parametrize("family", ["display", "business"])
def test_a_revoked_refresh_chain_surfaces_as_reauth_required(
    family: str, make_sandbox: Callable[..., SandboxApp], shared_clock: SharedClock
) -> None:
    app = make_sandbox(clock=shared_clock, access_token_ttl=TTL, strict_rotation=True)
    with served(app) as server, make_transport(shared_clock) as transport:
        provider = InMemoryTokenProvider(
            TokenSet.from_response(app.issue_tokens(ACCOUNT[family], family), shared_clock.now()),
            refresh=oauth_for(family, transport, server).refresh,
            clock=shared_clock,
        )
        call = data_call(family, transport, server, provider)
        shared_clock.advance(TTL)  # one ordinary rotation first
        assert call() == ACCOUNT[family]

        revoked = httpx.post(
            server.base_url + "/sandbox/revoke-refresh/",
            json={"open_id": ACCOUNT[family], "family": family},
        )
        assert revoked.status_code == 200
        assert call() == ACCOUNT[family], "the access token outlives its refresh chain"

        shared_clock.advance(TTL)
        with pytest.raises(ReauthRequired) as raised:
            call()

    assert "revoked" in str(raised.value)
    assert isinstance(raised.value, OAuthError)
    assert app.stats.snapshot()["requests"][TOKEN_ENDPOINT[family]] == 2


# --- 5. OAuth end to end ----------------------------------------------------------------------


def consent(authorize_url: str) -> dict[str, str]:
    """What the browser does: open the authorize URL and land on the redirect (not followed).

    Plain `http.client`, so the redirect (which carries the code) is never followed or logged.
    """
    parts = urlsplit(authorize_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        response.read()
        location = response.getheader("location") or ""
    finally:
        connection.close()
    assert response.status == 302
    assert location.startswith(REDIRECT_URI + "?")
    return dict(parse_qsl(urlsplit(location).query))


@pytest.mark.parametrize("challenge_format", ["S256", "hex"])
def test_display_authorization_code_flow_with_pkce(
    challenge_format: ChallengeFormat,
    make_sandbox: Callable[..., SandboxApp],
    client_clock: ManualClock,
) -> None:
    app = frozen_sandbox(make_sandbox)
    with served(app) as server, make_transport(client_clock) as transport:
        oauth = oauth_for("display", transport, server)
        assert isinstance(oauth, DisplayOAuth)
        pkce = PkcePair.generate(challenge_format)
        state = new_state()
        url = (
            oauth.authorize_url(REDIRECT_URI, DISPLAY_SCOPES_ALL, state, pkce)
            + f"&sandbox_open_id={CREATOR}"
        )
        callback = consent(url)
        assert callback["scopes"] == ",".join(DISPLAY_SCOPES_ALL)
        code = oauth.parse_callback(callback, state)

        tokens = TokenSet.from_response(
            oauth.exchange_code(code, REDIRECT_URI, code_verifier=pkce.verifier),
            transport.clock.now(),
        )
        provider = InMemoryTokenProvider(tokens, oauth.refresh, clock=client_clock)
        client = DisplayClient(transport, provider, base_url=server.base_url, scopes=tokens.scopes)
        user = client.user_info()
        first_page = client.list_videos(max_count=3)

    assert tokens.open_id == user.open_id == CREATOR
    assert tokens.scopes == DISPLAY_SCOPES_ALL
    assert user.username == app.world.user(CREATOR)["username"]
    assert first_page.items and first_page.has_more


def test_display_code_exchange_checks_the_verifier_and_single_use(
    make_sandbox: Callable[..., SandboxApp], client_clock: ManualClock
) -> None:
    with served(frozen_sandbox(make_sandbox)) as server, make_transport(client_clock) as transport:
        oauth = oauth_for("display", transport, server)
        assert isinstance(oauth, DisplayOAuth)
        pkce, state = PkcePair.generate(), new_state()
        code = oauth.parse_callback(
            consent(oauth.authorize_url(REDIRECT_URI, ["user.info.basic"], state, pkce)), state
        )
        with pytest.raises(OAuthError, match="code_verifier does not match") as wrong:
            oauth.exchange_code(code, REDIRECT_URI, code_verifier=PkcePair.generate().verifier)
        tokens = TokenSet.from_response(
            oauth.exchange_code(code, REDIRECT_URI, code_verifier=pkce.verifier),
            transport.clock.now(),
        )
        with pytest.raises(OAuthError, match="already been used") as reused:
            oauth.exchange_code(code, REDIRECT_URI, code_verifier=pkce.verifier)

    assert wrong.value.error == reused.value.error == "invalid_grant"
    assert tokens.scopes == ("user.info.basic",)


def test_business_authorization_code_flow(
    make_sandbox: Callable[..., SandboxApp], client_clock: ManualClock
) -> None:
    app = frozen_sandbox(make_sandbox)
    with served(app) as server, make_transport(client_clock) as transport:
        oauth = oauth_for("business", transport, server)
        state = new_state()
        url = oauth.authorize_url(REDIRECT_URI, BUSINESS_SCOPES_ALL, state)
        code = oauth.parse_callback(consent(url + f"&sandbox_open_id={BUSINESS}"), state)
        assert isinstance(oauth, BusinessOAuth)
        tokens = TokenSet.from_response(
            oauth.exchange_code(code, REDIRECT_URI), transport.clock.now()
        )
        provider = InMemoryTokenProvider(tokens, oauth.refresh, clock=client_clock)
        client = BusinessClient(
            transport, provider, tokens.open_id, base_url=server.business_base_url
        )
        profile = client.get_profile()

    assert tokens.open_id == profile.business_id == BUSINESS
    assert profile.username == app.world.business_account(BUSINESS)["username"]


def test_a_callback_with_another_state_is_refused(
    make_sandbox: Callable[..., SandboxApp], client_clock: ManualClock
) -> None:
    with served(frozen_sandbox(make_sandbox)) as server, make_transport(client_clock) as transport:
        oauth = oauth_for("display", transport, server)
        callback = consent(oauth.authorize_url(REDIRECT_URI, ["user.info.basic"], new_state()))

    assert callback["code"]
    with pytest.raises(OAuthError) as raised:
        oauth.parse_callback(callback, new_state())
    assert raised.value.error == "state_mismatch"
    assert "does not match" in str(raised.value) and "start the authorization again" in str(
        raised.value
    )


def test_denied_consent_is_reported_as_access_denied(
    make_sandbox: Callable[..., SandboxApp], client_clock: ManualClock
) -> None:
    app = make_sandbox(clock=SandboxClock(START), deny_consent=True)
    with served(app) as server, make_transport(client_clock) as transport:
        oauth = oauth_for("display", transport, server)
        state = new_state()
        callback = consent(oauth.authorize_url(REDIRECT_URI, ["user.info.basic"], state))

    assert "code" not in callback
    with pytest.raises(OAuthError) as raised:
        oauth.parse_callback(callback, state)
    assert raised.value.error == "access_denied"
    assert str(raised.value) == (
        "OAuth error access_denied: The user denied the authorization request."
    )


# --- 6. No secret leaks ---------------------------------------------------------------------


def texts_of(error: BaseException) -> Iterator[str]:
    """str and repr of an error and of every error chained to it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        current = current.__cause__ or current.__context__


def test_no_token_secret_or_code_reaches_logs_errors_or_reprs(
    make_sandbox: Callable[..., SandboxApp],
    shared_clock: SharedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_sandbox(clock=shared_clock, access_token_ttl=TTL, faults=replace(FAULT_MIX, seed=4))
    secrets: set[str] = {CLIENT_SECRET}
    errors: list[BaseException] = []
    reprs: list[str] = []

    def expect_failure(call: Callable[[], object]) -> None:
        with pytest.raises(TikTokError) as raised:
            call()
        errors.append(raised.value)

    caplog.set_level(logging.DEBUG)
    with served(app) as server, make_transport(shared_clock) as transport:
        oauth = oauth_for("display", transport, server)
        assert isinstance(oauth, DisplayOAuth)
        pkce, state = PkcePair.generate("hex"), new_state()
        app.set_faults(FaultConfig())  # a code exchange is never retried after a 5xx
        code = oauth.parse_callback(
            consent(oauth.authorize_url(REDIRECT_URI, DISPLAY_SCOPES_ALL, state, pkce)), state
        )
        secrets |= {code, pkce.verifier}
        expect_failure(lambda: oauth.parse_callback({"code": code, "state": "forged"}, state))
        expect_failure(lambda: oauth.exchange_code(code, REDIRECT_URI, code_verifier="x" * 43))
        tokens = TokenSet.from_response(
            oauth.exchange_code(code, REDIRECT_URI, code_verifier=pkce.verifier),
            transport.clock.now(),
        )
        expect_failure(lambda: oauth.exchange_code(code, REDIRECT_URI, pkce.verifier))
        app.set_faults(replace(FAULT_MIX, seed=4))

        rotations: list[TokenSet] = [tokens]
        provider = InMemoryTokenProvider(
            tokens, oauth.refresh, on_rotate=rotations.append, clock=shared_clock
        )
        client = DisplayClient(transport, provider, base_url=server.base_url)
        for _ in range(3):  # reads through faults, across a refresh
            assert client.all_videos(max_count=10).items
            shared_clock.advance(TTL / 2)
        stale = StaticTokenProvider(tokens.access_token)
        expect_failure(DisplayClient(transport, stale, base_url=server.base_url).user_info)
        app.revoke_refresh(tokens.open_id)
        shared_clock.advance(TTL)
        expect_failure(client.user_info)
        expect_failure(lambda: oauth.refresh(tokens.refresh_token))
        reprs += [repr(oauth), repr(provider), repr(stale), repr(pkce), repr(transport)]
        reprs += [repr(rotated) for rotated in rotations] + [str(rotated) for rotated in rotations]

    for rotated in rotations:
        secrets |= {
            rotated.access_token,
            rotated.refresh_token,
        }
    assert len(rotations) == 2  # issued, then rotated once
    assert {type(error) for error in errors} >= {OAuthError, TokenExpired, ReauthRequired}
    assert any("retry" in record.getMessage() for record in caplog.records), "faults were logged"

    formatter = logging.Formatter()
    texts = [record.getMessage() for record in caplog.records]
    texts += [
        formatter.formatException(record.exc_info) for record in caplog.records if record.exc_info
    ]
    texts += [text for error in errors for text in texts_of(error)]
    texts += reprs
    assert texts
    # the signature, the last part of every sandbox token, is enough to spot a partial leak
    fragments = secrets | {secret.rsplit(".", 1)[-1] for secret in secrets if secret.count(".") > 1}
    leaked = [text for text in texts if any(fragment in text for fragment in fragments)]
    for fragment in fragments:  # never print a secret, even in a failure report
        leaked = [text.replace(fragment, "<LEAKED>") for text in leaked]
    assert leaked == []
