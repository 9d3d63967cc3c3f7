"""BusinessClient against the documented Business API shapes (respx, no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from tiktok_etl.api import (
    ApiError,
    BusinessClient,
    CommentRequest,
    ManualClock,
    RateLimited,
    ServerError,
    StaticTokenProvider,
    TokenExpired,
    TokenResponse,
    Transport,
    TransportError,
)
from tiktok_etl.auth.model import TokenSet

from .conftest import BUSINESS, BUSINESS_ID, business_error, business_ok, load_fixture, sent_json
from .refreshing_provider import InMemoryTokenProvider

PROFILE = f"{BUSINESS}/business/get/"
VIDEO_LIST = f"{BUSINESS}/business/video/list/"
COMMENT_LIST = f"{BUSINESS}/business/comment/list/"
REPLY_LIST = f"{BUSINESS}/business/comment/reply/list/"
COMMENT_CREATE = f"{BUSINESS}/business/comment/create/"
REPLY_CREATE = f"{BUSINESS}/business/comment/reply/create/"
COMMENT_DELETE = f"{BUSINESS}/business/comment/delete/"

DAY = datetime(2026, 3, 1, tzinfo=UTC)
NEXT_DAY = DAY + timedelta(days=1)


def seconds(at: datetime) -> str:
    return str(int(at.timestamp()))


def comment(
    comment_id: str, at: datetime, video_id: str = "v1", replies: int = 0
) -> dict[str, Any]:
    return {
        "comment_id": comment_id,
        "video_id": video_id,
        "create_time": seconds(at),
        "text": f"text {comment_id}",
        "replies": replies,
    }


def listing(
    key: str, records: list[dict[str, Any]], cursor: int | None, has_more: bool
) -> httpx.Response:
    return business_ok({key: records, "cursor": cursor, "has_more": has_more})


def params(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


@pytest.fixture
def client(transport: Transport) -> BusinessClient:
    return BusinessClient(transport, StaticTokenProvider("act.BIZ"), BUSINESS_ID, base_url=BUSINESS)


def test_get_profile_sends_access_token_business_id_and_json_fields(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    route = api.get(PROFILE).mock(
        return_value=business_ok(
            {
                "username": "brand",
                "display_name": "Brand",
                "followers_count": 12,
                "is_business_account": True,
            }
        )
    )

    user = client.get_profile()

    request = route.calls.last.request
    assert request.headers["Access-Token"] == "act.BIZ"
    assert "Authorization" not in request.headers
    assert params(request) == {
        "business_id": BUSINESS_ID,
        "fields": (
            '["username","display_name","profile_image","followers_count","is_business_account"]'
        ),
    }
    assert (user.business_id, user.username, user.followers_count) == (BUSINESS_ID, "brand", 12)


def test_list_videos_sends_fields_as_a_json_array_and_parses_the_fixture(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    route = api.get(VIDEO_LIST).mock(
        return_value=httpx.Response(200, json=load_fixture("business_video_list.json"))
    )

    page = client.list_videos(cursor=20, max_count=50)

    sent = params(route.calls.last.request)
    assert json.loads(sent["fields"])[:3] == ["item_id", "create_time", "thumbnail_url"]
    assert (sent["business_id"], sent["cursor"], sent["max_count"]) == (BUSINESS_ID, "20", "20")
    assert [v.item_id for v in page.items] == ["7109065174526479622"]
    assert (page.cursor, page.has_more) == (20, True)


def test_all_videos_follow_the_offset_cursor(api: respx.MockRouter, client: BusinessClient) -> None:
    route = api.get(VIDEO_LIST).mock(
        side_effect=[
            listing("videos", [{"item_id": "1", "create_time": seconds(DAY)}], 1, True),
            listing("videos", [{"item_id": "2", "create_time": seconds(DAY)}], 2, False),
        ]
    )

    result = client.iter_all_videos()

    assert [v.item_id for v in result.items] == ["1", "2"]
    assert [params(c.request).get("cursor") for c in route.calls] == [None, "1"]


def test_video_window_stops_after_a_page_ending_before_start_despite_a_pinned_video(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    def videos(*hours: int) -> list[dict[str, Any]]:
        return [
            {"item_id": f"h{h}", "create_time": seconds(DAY + timedelta(hours=h))} for h in hours
        ]

    route = api.get(VIDEO_LIST).mock(
        side_effect=[
            listing("videos", videos(-500, 30, 10), 3, True),  # pinned old video first
            listing("videos", videos(2, -1, -2), 6, True),
            listing("videos", videos(-3, -4, -5), 9, True),
            listing("videos", videos(-6), 10, False),
        ]
    )

    result = client.videos_created_between(DAY, NEXT_DAY)

    assert [v.item_id for v in result.items] == ["h10", "h2"]
    assert route.call_count == 2  # page 2 ends before the day: no need for page 3


def test_list_comments_sends_documented_parameters_and_parses_the_fixture(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    route = api.get(COMMENT_LIST).mock(
        return_value=httpx.Response(200, json=load_fixture("business_comment_list.json"))
    )

    page = client.list_comments("7109065174526479622", cursor=4, max_count=99)

    assert params(route.calls.last.request) == {
        "business_id": BUSINESS_ID,
        "video_id": "7109065174526479622",
        "cursor": "4",
        "max_count": "30",
        "sort_field": "create_time",
        "sort_order": "desc",
        "include_replies": "false",
        "status": "PUBLIC",
    }
    assert [c.comment_id for c in page.items] == ["7110150495453840130", "7111907185164763905"]
    assert (page.cursor, page.has_more) == (2, False)


def test_list_replies_parses_the_fixture(api: respx.MockRouter, client: BusinessClient) -> None:
    route = api.get(REPLY_LIST).mock(
        return_value=httpx.Response(200, json=load_fixture("business_reply_list.json"))
    )

    page = client.list_replies("7109065174526479622", "7111907185164763905")

    sent = params(route.calls.last.request)
    assert (sent["video_id"], sent["comment_id"]) == ("7109065174526479622", "7111907185164763905")
    assert page.items[0].parent_comment_id == "7111907185164763905"


def test_comments_since_stops_early_and_filters_to_the_window(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    route = api.get(COMMENT_LIST).mock(
        side_effect=[
            listing(
                "comments",
                [comment("future", NEXT_DAY), comment("c1", DAY + timedelta(hours=9))],
                2,
                True,
            ),
            listing(
                "comments",
                [comment("c2", DAY), comment("old", DAY - timedelta(seconds=1))],
                4,
                True,
            ),
            listing("comments", [comment("older", DAY - timedelta(days=1))], 6, False),
        ]
    )

    result = client.comments_since("v1", since=DAY, until=NEXT_DAY)

    assert [c.comment_id for c in result.items] == ["c1", "c2"]
    assert route.call_count == 2


def test_comments_since_without_until_keeps_everything_newer(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    api.get(COMMENT_LIST).mock(
        return_value=listing(
            "comments",
            [comment("new", NEXT_DAY + timedelta(days=3)), comment("c", DAY)],
            None,
            False,
        )
    )

    assert [c.comment_id for c in client.comments_since("v1", since=DAY).items] == ["new", "c"]


def test_a_pinned_old_comment_does_not_end_the_read(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    route = api.get(COMMENT_LIST).mock(
        side_effect=[
            listing(
                "comments",
                [
                    comment("pinned", DAY - timedelta(days=90)),
                    comment("c1", DAY + timedelta(hours=3)),
                ],
                2,
                True,
            ),
            listing("comments", [comment("c2", DAY + timedelta(hours=1))], 3, False),
        ]
    )

    result = client.comments_since("v1", since=DAY)

    assert [c.comment_id for c in result.items] == ["c1", "c2"]
    assert route.call_count == 2


def test_comments_for_request_reads_the_video_and_its_replies(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    def comments_for(request: httpx.Request) -> httpx.Response:
        video_id = params(request)["video_id"]
        return listing(
            "comments",
            [
                comment(f"{video_id}-c1", DAY + timedelta(hours=2), video_id, replies=2),
                comment(f"{video_id}-c2", DAY + timedelta(hours=1), video_id),
            ],
            None,
            False,
        )

    def replies_for(request: httpx.Request) -> httpx.Response:
        sent = params(request)
        reply = comment(f"{sent['comment_id']}-r1", DAY + timedelta(hours=3), sent["video_id"])
        reply["parent_comment_id"] = sent["comment_id"]
        return listing("comments", [reply], None, False)

    api.get(COMMENT_LIST).mock(side_effect=comments_for)
    replies = api.get(REPLY_LIST).mock(side_effect=replies_for)

    v7 = client.comments_for_request(CommentRequest("v7", since=DAY, until=NEXT_DAY))
    quiet = client.comments_for_request(
        CommentRequest("quiet", since=DAY, until=NEXT_DAY, include_replies=False)
    )

    assert [c.comment_id for c in v7.items] == ["v7-c1", "v7-c2", "v7-c1-r1"]
    assert v7.items[2].parent_comment_id == "v7-c1"
    assert v7.pages == 2
    assert [c.comment_id for c in quiet.items] == ["quiet-c1", "quiet-c2"]
    assert replies.call_count == 1


def test_comments_for_request_raises_the_api_error(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    api.get(COMMENT_LIST).mock(return_value=business_error(40002, "video not found"))

    with pytest.raises(ApiError) as caught:
        client.comments_for_request(CommentRequest("gone", since=DAY))
    assert caught.value.code == "40002"


def test_create_comment_posts_json_and_returns_the_comment_id(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    route = api.post(COMMENT_CREATE).mock(return_value=business_ok({"comment_id": "c-new"}))

    assert client.create_comment("v1", "Thanks!") == "c-new"
    assert sent_json(route.calls.last.request) == {
        "business_id": BUSINESS_ID,
        "video_id": "v1",
        "text": "Thanks!",
    }


def test_reply_to_comment_posts_json_and_returns_the_reply_id(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    route = api.post(REPLY_CREATE).mock(return_value=business_ok({"comment_id": "r-new"}))

    assert client.reply_to_comment("v1", "c1", "Glad you like it") == "r-new"
    assert sent_json(route.calls.last.request) == {
        "business_id": BUSINESS_ID,
        "video_id": "v1",
        "comment_id": "c1",
        "text": "Glad you like it",
    }


def test_delete_comment_posts_json(api: respx.MockRouter, client: BusinessClient) -> None:
    route = api.post(COMMENT_DELETE).mock(return_value=business_ok({}))

    client.delete_comment("c1")

    assert sent_json(route.calls.last.request) == {"business_id": BUSINESS_ID, "comment_id": "c1"}


@pytest.mark.parametrize("text", ["x" * 151, "", "   "])
def test_invalid_comment_text_is_refused_before_sending(
    api: respx.MockRouter, client: BusinessClient, text: str
) -> None:
    route = api.post(COMMENT_CREATE).mock(return_value=business_ok({"comment_id": "c"}))

    with pytest.raises(ValueError):
        client.create_comment("v1", text)
    assert route.call_count == 0


def test_a_150_character_comment_is_allowed(api: respx.MockRouter, client: BusinessClient) -> None:
    api.post(COMMENT_CREATE).mock(return_value=business_ok({"comment_id": "c"}))

    assert client.create_comment("v1", "x" * 150) == "c"


def test_a_comment_write_is_not_retried_after_a_timeout(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    route = api.post(COMMENT_CREATE).mock(
        side_effect=[httpx.ReadTimeout("timed out"), business_ok({"comment_id": "c"})]
    )

    with pytest.raises(TransportError):
        client.create_comment("v1", "hello")
    assert route.call_count == 1


def test_a_throttled_comment_write_is_retried(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    route = api.post(COMMENT_CREATE).mock(
        side_effect=[business_error(40100), business_ok({"comment_id": "c"})]
    )

    assert client.create_comment("v1", "hello") == "c"
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("code", "status", "error_type", "requests"),
    [
        (40100, 200, RateLimited, 4),
        (40105, 200, TokenExpired, 1),
        (40001, 200, ApiError, 1),
        (40002, 200, ApiError, 1),
        (50000, 200, ServerError, 4),
        (50002, 200, ServerError, 4),
        (60001, 200, ServerError, 4),
        (40099, 200, ApiError, 1),
        (40100, 429, RateLimited, 4),
        (0, 500, ServerError, 4),
    ],
)
def test_error_codes_map_to_typed_errors(
    api: respx.MockRouter,
    client: BusinessClient,
    code: int,
    status: int,
    error_type: type[ApiError],
    requests: int,
) -> None:
    route = api.get(PROFILE).mock(return_value=business_error(code, "msg", status=status))

    with pytest.raises(error_type) as caught:
        client.get_profile()

    assert type(caught.value) is error_type
    assert caught.value.log_id == "REQ-1"
    assert caught.value.http_status == status
    assert route.call_count == requests


def test_fixture_throttle_on_http_200_is_retried_then_succeeds(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    api.get(VIDEO_LIST).mock(
        side_effect=[
            httpx.Response(200, json=load_fixture("business_rate_limited.json")),
            httpx.Response(200, json=load_fixture("business_video_list.json")),
        ]
    )

    assert len(client.list_videos().items) == 1


def test_a_rejected_token_is_refreshed_once_and_the_request_retried(
    api: respx.MockRouter, transport: Transport, clock: ManualClock
) -> None:
    def refresher(refresh_token: str) -> TokenResponse:
        return {**load_fixture("business_token.json")["data"], "access_token": "act.NEW"}

    initial = TokenSet.from_response(load_fixture("business_token.json")["data"], clock.now())
    client = BusinessClient(
        transport,
        InMemoryTokenProvider(initial, refresher, clock=clock),
        BUSINESS_ID,
        base_url=BUSINESS,
    )
    route = api.get(PROFILE).mock(
        side_effect=[business_error(40105), business_ok({"username": "b"})]
    )

    assert client.get_profile().username == "b"
    assert [c.request.headers["Access-Token"] for c in route.calls] == [
        "act.example-access-token",
        "act.NEW",
    ]
