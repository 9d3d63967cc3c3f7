"""DisplayClient against the documented Display API shapes (respx, no network)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from tiktok_etl.api import (
    ApiError,
    DisplayClient,
    ManualClock,
    RateLimited,
    ScopeNotAuthorized,
    ServerError,
    StaticTokenProvider,
    TokenExpired,
    TokenResponse,
    Transport,
    user_fields_for_scopes,
)
from tiktok_etl.api.windows import to_epoch_ms
from tiktok_etl.auth.model import TokenSet

from .conftest import DISPLAY, display_error, display_ok, load_fixture, sent_json
from .refreshing_provider import InMemoryTokenProvider

USER_INFO = DISPLAY + "/v2/user/info/"
VIDEO_LIST = DISPLAY + "/v2/video/list/"
VIDEO_QUERY = DISPLAY + "/v2/video/query/"

DAY = datetime(2026, 3, 1, tzinfo=UTC)
NEXT_DAY = DAY + timedelta(days=1)


def video(video_id: str, at: datetime) -> dict[str, Any]:
    return {"id": video_id, "create_time": int(at.timestamp()), "like_count": 1}


def videos_page(videos: list[dict[str, Any]], cursor: int | None, has_more: bool) -> httpx.Response:
    return display_ok({"videos": videos, "cursor": cursor, "has_more": has_more})


@pytest.fixture
def client(transport: Transport) -> DisplayClient:
    return DisplayClient(
        transport, StaticTokenProvider("act.TEST"), base_url=DISPLAY, scopes=["user.info.basic"]
    )


def test_user_info_sends_bearer_token_and_scope_fields(
    api: respx.MockRouter, transport: Transport
) -> None:
    route = api.get(USER_INFO).mock(
        return_value=httpx.Response(200, json=load_fixture("display_user_info.json"))
    )
    client = DisplayClient(
        transport,
        StaticTokenProvider("act.TEST"),
        base_url=DISPLAY,
        scopes=["user.info.basic", "user.info.profile", "user.info.stats", "video.list"],
    )

    user = client.user_info()

    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer act.TEST"
    assert request.url.params["fields"] == (
        "open_id,union_id,avatar_url,display_name,bio_description,profile_deep_link,"
        "is_verified,username,follower_count,following_count,likes_count,video_count"
    )
    assert user.open_id == "723f24d7-e717-40f8-a2b6-cb8464cd23b4"
    assert user.follower_count == 1024
    assert user.raw == load_fixture("display_user_info.json")["data"]["user"]


@pytest.mark.parametrize("scopes", [None, [], ["video.list"], ["something.new"]])
def test_unknown_or_empty_scopes_request_basic_fields_only(scopes: list[str] | None) -> None:
    assert user_fields_for_scopes(scopes) == ("open_id", "union_id", "avatar_url", "display_name")


def test_stats_scope_adds_stats_fields_without_profile_fields() -> None:
    fields = user_fields_for_scopes(["user.info.basic", "user.info.stats"])

    assert fields[-4:] == ("follower_count", "following_count", "likes_count", "video_count")
    assert "username" not in fields


def test_explicit_user_fields_always_include_open_id(
    api: respx.MockRouter, client: DisplayClient
) -> None:
    route = api.get(USER_INFO).mock(
        return_value=display_ok({"user": {"open_id": "o1", "display_name": "Tik"}})
    )

    client.user_info(fields=["display_name"])

    assert route.calls.last.request.url.params["fields"] == "open_id,display_name"


def test_user_info_without_a_user_object_raises_api_error(
    api: respx.MockRouter, client: DisplayClient
) -> None:
    api.get(USER_INFO).mock(return_value=display_ok({}))

    with pytest.raises(ApiError) as caught:
        client.user_info()
    assert caught.value.code == "malformed_response"


def test_list_videos_posts_cursor_and_max_count_and_parses_the_fixture(
    api: respx.MockRouter, client: DisplayClient
) -> None:
    route = api.post(VIDEO_LIST).mock(
        return_value=httpx.Response(200, json=load_fixture("display_video_list.json"))
    )

    page = client.list_videos(cursor=1648600000000, max_count=20)

    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer act.TEST"
    assert request.url.params["fields"].split(",")[:2] == ["id", "create_time"]
    assert sent_json(request) == {"cursor": 1648600000000, "max_count": 20}
    assert [v.id for v in page.items] == ["7080213458555737986", "7080217258529732386"]
    assert (page.cursor, page.has_more, page.rejects) == (1648400000000, True, [])


@pytest.mark.parametrize(("asked", "sent"), [(100, 20), (0, 1), (7, 7)])
def test_list_videos_clamps_max_count(
    api: respx.MockRouter, client: DisplayClient, asked: int, sent: int
) -> None:
    route = api.post(VIDEO_LIST).mock(return_value=videos_page([], None, False))

    client.list_videos(max_count=asked)

    assert sent_json(route.calls.last.request) == {"max_count": sent}


def test_a_malformed_video_is_rejected_and_the_page_survives(
    api: respx.MockRouter, client: DisplayClient
) -> None:
    api.post(VIDEO_LIST).mock(
        return_value=videos_page(
            [video("1", DAY), {"id": None, "create_time": 1}, video("3", DAY)], None, False
        )
    )

    page = client.list_videos()

    assert [v.id for v in page.items] == ["1", "3"]
    assert page.rejects[0].payload == {"id": None, "create_time": 1}


def test_window_read_starts_at_the_end_and_stops_early(
    api: respx.MockRouter, client: DisplayClient, transport: Transport
) -> None:
    pages = {
        to_epoch_ms(NEXT_DAY): videos_page(
            [video("a", NEXT_DAY - timedelta(hours=1)), video("b", DAY + timedelta(hours=12))],
            cursor=to_epoch_ms(DAY + timedelta(hours=12)),
            has_more=True,
        ),
        to_epoch_ms(DAY + timedelta(hours=12)): videos_page(
            [video("c", DAY + timedelta(hours=1)), video("d", DAY - timedelta(hours=3))],
            cursor=to_epoch_ms(DAY - timedelta(hours=3)),
            has_more=True,
        ),
    }
    route = api.post(VIDEO_LIST).mock(
        side_effect=lambda request: pages[sent_json(request)["cursor"]]
    )

    result = client.videos_created_between(DAY, NEXT_DAY)

    assert [v.id for v in result.items] == ["a", "b", "c"]
    assert route.call_count == 2
    assert result.pages == 2
    assert transport.stats.pages == 2


def test_window_read_is_exact_at_both_boundaries(
    api: respx.MockRouter, client: DisplayClient
) -> None:
    # the API is allowed to be inclusive at the cursor: the filter decides
    api.post(VIDEO_LIST).mock(
        return_value=videos_page(
            [
                video("at-end", NEXT_DAY),
                video("last-second", NEXT_DAY - timedelta(seconds=1)),
                video("at-start", DAY),
                video("before-start", DAY - timedelta(seconds=1)),
            ],
            cursor=to_epoch_ms(DAY - timedelta(seconds=1)),
            has_more=True,
        )
    )

    result = client.videos_created_between(DAY, NEXT_DAY)

    assert [v.id for v in result.items] == ["last-second", "at-start"]


def test_a_cursor_exactly_on_the_day_boundary_reads_one_more_page(
    api: respx.MockRouter, client: DisplayClient
) -> None:
    pages = {
        to_epoch_ms(NEXT_DAY): videos_page(
            [video("noon", DAY + timedelta(hours=12)), video("midnight", DAY)],
            cursor=to_epoch_ms(DAY),
            has_more=True,
        ),
        to_epoch_ms(DAY): videos_page(
            [video("also-midnight", DAY), video("yesterday", DAY - timedelta(hours=1))],
            cursor=to_epoch_ms(DAY - timedelta(hours=1)),
            has_more=True,
        ),
    }
    route = api.post(VIDEO_LIST).mock(
        side_effect=lambda request: pages[sent_json(request)["cursor"]]
    )

    result = client.videos_created_between(DAY, NEXT_DAY)

    assert [v.id for v in result.items] == ["noon", "midnight", "also-midnight"]
    assert route.call_count == 2


def test_a_next_cursor_before_the_start_ends_the_read(
    api: respx.MockRouter, client: DisplayClient
) -> None:
    route = api.post(VIDEO_LIST).mock(
        return_value=videos_page([], cursor=to_epoch_ms(DAY) - 1, has_more=True)
    )

    result = client.videos_created_between(DAY, NEXT_DAY)

    assert result.items == []
    assert route.call_count == 1


def test_short_pages_with_has_more_are_followed(
    api: respx.MockRouter, client: DisplayClient
) -> None:
    hours = [20, 16, 12, 8]
    pages = [
        videos_page(
            [video(f"h{h}", DAY + timedelta(hours=h))],
            cursor=to_epoch_ms(DAY + timedelta(hours=h)),
            has_more=True,
        )
        for h in hours
    ] + [videos_page([], cursor=None, has_more=False)]
    route = api.post(VIDEO_LIST).mock(side_effect=pages)

    result = client.videos_created_between(DAY, NEXT_DAY)

    assert [v.id for v in result.items] == ["h20", "h16", "h12", "h8"]
    assert route.call_count == 5


def test_a_pinned_old_video_on_top_does_not_end_the_read_early(
    api: respx.MockRouter, client: DisplayClient
) -> None:
    route = api.post(VIDEO_LIST).mock(
        side_effect=[
            videos_page(
                [
                    video("pinned", DAY - timedelta(days=300)),
                    video("today", DAY + timedelta(hours=5)),
                ],
                cursor=to_epoch_ms(DAY + timedelta(hours=5)),
                has_more=True,
            ),
            videos_page([video("today-2", DAY + timedelta(hours=1))], cursor=None, has_more=False),
        ]
    )

    result = client.videos_created_between(DAY, NEXT_DAY)

    assert [v.id for v in result.items] == ["today", "today-2"]
    assert route.call_count == 2


def test_naive_window_bounds_are_refused(client: DisplayClient) -> None:
    with pytest.raises(ValueError):
        client.videos_created_between(datetime(2026, 3, 1), datetime(2026, 3, 2))


@pytest.mark.parametrize(
    ("status", "code", "error_type", "requests"),
    [
        (401, "access_token_invalid", TokenExpired, 1),
        (401, "scope_not_authorized", ScopeNotAuthorized, 1),
        (400, "scope_permission_missed", ScopeNotAuthorized, 1),
        (400, "invalid_params", ApiError, 1),
        (429, "rate_limit_exceeded", RateLimited, 4),
        (500, "internal_error", ServerError, 4),
        (200, "rate_limit_exceeded", RateLimited, 4),
        (200, "some_new_error", ApiError, 1),
    ],
)
def test_error_codes_map_to_typed_errors(
    api: respx.MockRouter,
    client: DisplayClient,
    status: int,
    code: str,
    error_type: type[ApiError],
    requests: int,
) -> None:
    route = api.get(USER_INFO).mock(return_value=display_error(status, code, "msg", "LOG7"))

    with pytest.raises(error_type) as caught:
        client.user_info()

    assert type(caught.value) is error_type
    assert (caught.value.code, caught.value.http_status, caught.value.log_id) == (
        code,
        status,
        "LOG7",
    )
    assert route.call_count == requests


def test_fixture_token_error_maps_to_token_expired(
    api: respx.MockRouter, client: DisplayClient
) -> None:
    api.get(USER_INFO).mock(
        return_value=httpx.Response(401, json=load_fixture("display_error_token_invalid.json"))
    )

    with pytest.raises(TokenExpired) as caught:
        client.user_info()
    assert caught.value.log_id == "202208312014530B1E2B0E0C7B2F1C6E2F"


def test_fixture_rate_limit_error_is_retried_then_succeeds(
    api: respx.MockRouter, client: DisplayClient
) -> None:
    api.get(USER_INFO).mock(
        side_effect=[
            httpx.Response(429, json=load_fixture("display_error_rate_limited.json")),
            display_ok({"user": {"open_id": "o1"}}),
        ]
    )

    assert client.user_info().open_id == "o1"


def provider_for(clock: ManualClock, refreshed: list[str]) -> InMemoryTokenProvider:
    def refresher(refresh_token: str) -> TokenResponse:
        refreshed.append(refresh_token)
        return {
            "access_token": "act.NEW",
            "refresh_token": "rft.NEW",
            "open_id": "o1",
            "expires_in": 7200,
        }

    initial = TokenSet.from_response(
        {
            "access_token": "act.OLD",
            "refresh_token": "rft.OLD",
            "open_id": "o1",
            "expires_in": 7200,
        },
        clock.now(),
    )
    return InMemoryTokenProvider(initial, refresher, clock=clock)


def test_a_rejected_token_is_refreshed_once_and_the_request_retried(
    api: respx.MockRouter, transport: Transport, clock: ManualClock
) -> None:
    refreshed: list[str] = []
    client = DisplayClient(transport, provider_for(clock, refreshed), base_url=DISPLAY)
    route = api.get(USER_INFO).mock(
        side_effect=[
            display_error(401, "access_token_invalid"),
            display_ok({"user": {"open_id": "o1"}}),
        ]
    )

    assert client.user_info().open_id == "o1"
    assert refreshed == ["rft.OLD"]
    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Bearer act.OLD",
        "Bearer act.NEW",
    ]


def test_a_second_rejection_after_refresh_raises(
    api: respx.MockRouter, transport: Transport, clock: ManualClock
) -> None:
    refreshed: list[str] = []
    client = DisplayClient(transport, provider_for(clock, refreshed), base_url=DISPLAY)
    route = api.get(USER_INFO).mock(return_value=display_error(401, "access_token_invalid"))

    with pytest.raises(TokenExpired):
        client.user_info()
    assert route.call_count == 2
    assert refreshed == ["rft.OLD"]


def test_concurrent_requests_rejected_together_refresh_once(
    api: respx.MockRouter, transport: Transport, clock: ManualClock
) -> None:
    refreshed: list[str] = []
    client = DisplayClient(transport, provider_for(clock, refreshed), base_url=DISPLAY)
    workers = 6
    all_rejected = threading.Barrier(workers)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer act.OLD":
            all_rejected.wait(timeout=5)
            return display_error(401, "access_token_invalid")
        return display_ok({"user": {"open_id": "o1"}})

    api.get(USER_INFO).mock(side_effect=answer)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(client.user_info().open_id))
        for _ in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert results == ["o1"] * workers
    assert refreshed == ["rft.OLD"]
