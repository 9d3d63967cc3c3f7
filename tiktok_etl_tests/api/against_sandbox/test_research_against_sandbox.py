"""ResearchClient against the sandbox's Research API over real sockets.

The expected videos are computed from the sandbox world with plain comprehensions, not
with the client or the query parser, so a shared misunderstanding cannot pass unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from tiktok_etl.api import ManualClock, Transport
from tiktok_etl.api.errors import ResearchQuotaExhausted
from tiktok_etl.api.research import ClientCredentials, ResearchClient
from tiktok_etl.api.research_query import parse_query
from tiktok_etl.sandbox import SandboxApp, SandboxClock, SandboxServer, build_sandbox
from tiktok_etl.sandbox.research import CLIENT_KEY, CLIENT_SECRET, PublicVideo

from .helpers import START, retry_policy

DAYS = [START.date() - timedelta(days=n) for n in range(1, 8)]


@pytest.fixture
def app() -> SandboxApp:
    return build_sandbox(seed=7, clock=SandboxClock(START), history_days=30)


@pytest.fixture
def server(app: SandboxApp) -> Iterator[SandboxServer]:
    with SandboxServer(app) as served:
        yield served


@pytest.fixture
def client(server: SandboxServer) -> Iterator[ResearchClient]:
    with Transport(clock=ManualClock(START), retry=retry_policy()) as transport:
        tokens = ClientCredentials(transport, CLIENT_KEY, CLIENT_SECRET, base_url=server.base_url)
        yield ResearchClient(transport, tokens, base_url=server.base_url)


def truth(app: SandboxApp, days: list[date], keep: object) -> set[str]:
    world = app.research.world
    return {str(v.id) for day in days for v in world.videos_on(day) if keep(v)}  # type: ignore[operator]


def acme(v: PublicVideo) -> bool:
    return "acme" in v.hashtags or "acme" in v.description.lower()


def test_the_world_has_matches_and_non_matches(app: SandboxApp) -> None:
    videos = [v for day in DAYS for v in app.research.world.videos_on(day)]
    assert any(acme(v) for v in videos) and not all(acme(v) for v in videos)
    assert all(v.id > 2**53 for v in videos)


@pytest.mark.parametrize(
    ("text", "regions", "keep"),
    [
        ("#acme OR acme", (), acme),
        ("#food", (), lambda v: "food" in v.hashtags),
        ("@tech_tom", (), lambda v: v.username == "tech_tom"),
        ("review -#fyp", (), lambda v: "review" in v.description and "fyp" not in v.hashtags),
        ("#acme OR acme", ("US", "DE"), lambda v: acme(v) and v.region_code in ("US", "DE")),
    ],
)
def test_a_query_returns_exactly_the_matching_public_videos_across_pages(
    app: SandboxApp, client: ResearchClient, text: str, regions: tuple[str, ...], keep: object
) -> None:
    query = parse_query(text, regions).to_tiktok()
    found = client.videos(query, DAYS[-1], DAYS[0], max_count=3)

    ids = [v.id for v in found.items]
    assert len(ids) == len(set(ids))
    assert set(ids) == truth(app, DAYS, keep)
    assert found.rejects == []


def test_a_range_over_30_days_is_searched_in_windows(
    app: SandboxApp, client: ResearchClient
) -> None:
    days = [START.date() - timedelta(days=n) for n in range(0, 29)] + [
        START.date() - timedelta(days=n) for n in range(29, 45)
    ]
    found = client.videos(parse_query("#acme OR acme").to_tiktok(), days[-1], days[0])
    assert {v.id for v in found.items} == truth(app, days, acme)


def test_comments_are_the_videos_top_comments_with_exact_ids(
    app: SandboxApp, client: ResearchClient
) -> None:
    world = app.research.world
    heavy = next(
        v for d in (START.date() - timedelta(days=n) for n in range(30)) for v in world.videos_on(d)
        if v.comment_total > 120
    )  # fmt: skip
    found = client.comments(str(heavy.id), limit=110)

    expected = [str(c.id) for c in world.comments_of(heavy)][:110]
    assert [c.id for c in found.items] == expected
    assert all(c.video_id == str(heavy.id) for c in found.items)


def test_requests_and_records_are_counted_as_the_sandbox_counts_them(
    app: SandboxApp, client: ResearchClient
) -> None:
    day = DAYS[0]
    found = client.videos(parse_query("#acme OR acme").to_tiktok(), day, day, max_count=2)
    pages = max(1, -(-len(found.items) // 2))
    assert app.research.usage(START.date()) == (pages, len(found.items))


def test_the_quota_refusal_stops_the_client_with_the_reset_time(
    app: SandboxApp, client: ResearchClient
) -> None:
    app.research.daily_requests = 2
    with pytest.raises(ResearchQuotaExhausted, match="resets at 2026-11-06 00:00 UTC"):
        client.videos(
            parse_query("fyp OR new OR great").to_tiktok(), DAYS[-1], DAYS[0], max_count=1
        )
    assert app.research.usage(START.date())[0] == 2


def test_the_sandbox_requires_the_search_id_and_a_30_day_window(
    app: SandboxApp, server: SandboxServer
) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        token = http.post(
            "/v2/oauth/token/",
            data={"client_key": CLIENT_KEY, "client_secret": CLIENT_SECRET,
                  "grant_type": "client_credentials"},
        ).json()  # fmt: skip
        assert token["access_token"].startswith("clt.") and token["expires_in"] == 7200
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        query = {"or": [{"operation": "EQ", "field_name": "keyword", "field_values": ["a"]}]}

        def ask(**body: object) -> httpx.Response:
            return http.post("/v2/research/video/query/", params={"fields": "id"},
                             json={"query": query, **body}, headers=headers)  # fmt: skip

        later = ask(start_date="20261101", end_date="20261102", cursor=5)
        assert later.status_code == 400 and "search_id" in later.json()["error"]["message"]
        wide = ask(start_date="20261001", end_date="20261101")
        assert wide.status_code == 400 and "30 days" in wide.json()["error"]["message"]
        bad = http.post(
            "/v2/research/video/query/", params={"fields": "id"},
            json={"query": query, "start_date": "20261101", "end_date": "20261101"},
            headers={"Authorization": "Bearer clt.not-issued"},
        )  # fmt: skip
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "access_token_invalid"
