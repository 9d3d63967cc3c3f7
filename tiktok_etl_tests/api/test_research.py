"""ResearchClient against the documented Research API shapes (respx, no network)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from tiktok_etl.api import ApiError, ManualClock, OAuthError, Transport
from tiktok_etl.api.errors import ResearchQuotaExhausted
from tiktok_etl.api.research import (
    ClientCredentials,
    ResearchClient,
    split_window,
)

from .conftest import DISPLAY, display_error, display_ok, sent_json

TOKEN = DISPLAY + "/v2/oauth/token/"
QUERY = DISPLAY + "/v2/research/video/query/"
COMMENTS = DISPLAY + "/v2/research/video/comment/list/"
SECRET = "research-secret-value-42"
BIG_ID = 7_300_000_000_000_000_123  # beyond 2**53: a float cannot hold it


class CountingQuota:
    """A QuotaGuard that counts like the storage one, in memory."""

    def __init__(self) -> None:
        self.requests = 0
        self.records = 0
        self.refusals = 0

    def reserve_request(self, endpoint: str) -> None:
        self.requests += 1

    def record(self, endpoint: str, *, records: int, extra_requests: int = 0) -> None:
        self.records += records
        self.requests += extra_requests

    def refused(self, endpoint: str) -> None:
        self.requests -= 1
        self.refusals += 1


def raw_json(status: int, text: str) -> httpx.Response:
    return httpx.Response(
        status, content=text.encode(), headers={"content-type": "application/json"}
    )


def token_ok(token: str = "clt.first", expires_in: int = 7200) -> httpx.Response:
    return httpx.Response(
        200, json={"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}
    )


def video(video_id: int, day: date, **extra: Any) -> dict[str, Any]:
    created = int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp())
    return {"id": video_id, "create_time": created, "username": "acme", **extra}


@pytest.fixture
def quota() -> CountingQuota:
    return CountingQuota()


@pytest.fixture
def client(transport: Transport, quota: CountingQuota) -> ResearchClient:
    tokens = ClientCredentials(transport, "research-key", SECRET, base_url=DISPLAY)
    return ResearchClient(transport, tokens, base_url=DISPLAY, quota=quota)


def test_the_token_is_a_client_credentials_grant_cached_in_memory(
    api: respx.MockRouter, client: ResearchClient
) -> None:
    token = api.post(TOKEN).mock(return_value=token_ok())
    query = api.post(QUERY).mock(
        return_value=display_ok({"videos": [], "cursor": 0, "has_more": False, "search_id": "s"})
    )
    day = date(2026, 3, 1)
    client.videos({"and": []}, day, day)
    client.videos({"and": []}, day, day)

    assert token.call_count == 1
    form = parse_qs(token.calls[0].request.content.decode())
    assert form == {
        "client_key": ["research-key"],
        "client_secret": [SECRET],
        "grant_type": ["client_credentials"],
    }
    assert [c.request.headers["authorization"] for c in query.calls] == ["Bearer clt.first"] * 2


def test_the_token_is_renewed_before_it_expires(
    api: respx.MockRouter, client: ResearchClient, clock: ManualClock
) -> None:
    api.post(TOKEN).mock(side_effect=[token_ok("clt.first"), token_ok("clt.second")])
    query = api.post(QUERY).mock(
        return_value=display_ok({"videos": [], "cursor": 0, "has_more": False, "search_id": "s"})
    )
    day = date(2026, 3, 1)
    client.videos({"and": []}, day, day)
    clock.advance(7200 - 300 - 1)
    client.videos({"and": []}, day, day)
    clock.advance(2)  # inside the last five minutes
    client.videos({"and": []}, day, day)

    sent = [c.request.headers["authorization"] for c in query.calls]
    assert sent == ["Bearer clt.first", "Bearer clt.first", "Bearer clt.second"]


def test_a_rejected_token_is_replaced_once_and_the_request_repeated(
    api: respx.MockRouter, client: ResearchClient, quota: CountingQuota
) -> None:
    api.post(TOKEN).mock(side_effect=[token_ok("clt.old"), token_ok("clt.new")])
    query = api.post(QUERY).mock(
        side_effect=[
            display_error(401, "access_token_invalid"),
            display_ok({"videos": [], "cursor": 0, "has_more": False, "search_id": "s"}),
        ]
    )
    day = date(2026, 3, 1)
    client.videos({"and": []}, day, day)
    assert [c.request.headers["authorization"] for c in query.calls] == [
        "Bearer clt.old",
        "Bearer clt.new",
    ]
    assert quota.requests == 2  # TikTok saw two requests


def test_later_pages_send_the_first_pages_search_id_and_cursor(
    api: respx.MockRouter, client: ResearchClient, quota: CountingQuota
) -> None:
    api.post(TOKEN).mock(return_value=token_ok())
    day = date(2026, 3, 1)
    query = api.post(QUERY).mock(
        side_effect=[
            display_ok({"videos": [video(1, day), video(2, day)], "cursor": 2,
                        "has_more": True, "search_id": "7301-search"}),
            display_ok({"videos": [video(3, day)], "cursor": 3, "has_more": True,
                        "search_id": "7301-search"}),
            display_ok({"videos": [video(4, day)], "cursor": 4, "has_more": False}),
        ]
    )  # fmt: skip
    found = client.videos({"or": [{"operation": "EQ", "field_name": "keyword",
                                   "field_values": ["acme"]}]}, day, day, max_count=2)  # fmt: skip

    assert [v.id for v in found.items] == ["1", "2", "3", "4"]
    bodies = [sent_json(c.request) for c in query.calls]
    assert [b.get("cursor") for b in bodies] == [None, 2, 3]
    assert [b.get("search_id") for b in bodies] == [None, "7301-search", "7301-search"]
    assert all(b["start_date"] == b["end_date"] == "20260301" for b in bodies)
    assert all(b["max_count"] == 2 for b in bodies)
    fields = query.calls[0].request.url.params["fields"].split(",")
    assert {"id", "create_time", "video_description", "hashtag_names", "region_code"} <= set(fields)
    assert (quota.requests, quota.records) == (3, 4)


def test_a_long_range_is_split_into_windows_of_at_most_30_days(
    api: respx.MockRouter, client: ResearchClient
) -> None:
    api.post(TOKEN).mock(return_value=token_ok())
    query = api.post(QUERY).mock(
        return_value=display_ok({"videos": [], "cursor": 0, "has_more": False, "search_id": "s"})
    )
    client.videos({"and": []}, date(2026, 1, 1), date(2026, 2, 14))
    windows = [
        (b["start_date"], b["end_date"]) for b in map(sent_json, (c.request for c in query.calls))
    ]
    assert windows == [("20260101", "20260130"), ("20260131", "20260214")]


def test_split_window_covers_every_day_once() -> None:
    windows = split_window(date(2026, 1, 1), date(2026, 3, 31))
    days = [w[0] + timedelta(days=i) for w in windows for i in range((w[1] - w[0]).days + 1)]
    assert days == [date(2026, 1, 1) + timedelta(days=i) for i in range(90)]
    assert all((last - first).days < 30 for first, last in windows)
    with pytest.raises(ValueError, match="before"):
        split_window(date(2026, 1, 2), date(2026, 1, 1))


def test_ids_sent_as_json_numbers_stay_exact_and_float_ids_are_rejected(
    api: respx.MockRouter, client: ResearchClient
) -> None:
    api.post(TOKEN).mock(return_value=token_ok())
    day = date(2026, 3, 1)
    created = int(datetime(2026, 3, 1, 9, tzinfo=UTC).timestamp())
    body = (
        '{"data": {"videos": ['
        f'{{"id": {BIG_ID}, "create_time": {created}, "music_id": 6900000000000000001}},'
        f'{{"id": 7.300000000000001e18, "create_time": {created}}}'
        '], "cursor": 2, "has_more": false, "search_id": "s"},'
        ' "error": {"code": "ok", "message": "", "log_id": "L"}}'
    )
    api.post(QUERY).mock(return_value=raw_json(200, body))
    found = client.videos({"and": []}, day, day)

    (good,) = found.items
    assert good.id == str(BIG_ID) == "7300000000000000123"
    assert good.music_id == "6900000000000000001"
    assert good.raw["id"] == BIG_ID
    (rejected,) = found.rejects
    assert "floating-point" in rejected.reason


def test_comments_page_by_offset_up_to_the_limit(
    api: respx.MockRouter, client: ResearchClient, quota: CountingQuota
) -> None:
    api.post(TOKEN).mock(return_value=token_ok())

    def page(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        start, size = body["cursor"], body["max_count"]
        comments = [
            {"id": 9_000_000_000_000_000_000 + i, "video_id": BIG_ID, "text": f"c{i}",
             "create_time": 1_772_000_000, "parent_comment_id": 0}
            for i in range(start, start + size)
        ]  # fmt: skip
        return display_ok({"comments": comments, "cursor": start + size, "has_more": True})

    route = api.post(COMMENTS).mock(side_effect=page)
    result = client.comments(str(BIG_ID), limit=150)

    assert len(result.items) == 150
    assert result.items[0].parent_comment_id is None
    bodies = [sent_json(c.request) for c in route.calls]
    assert [(b["cursor"], b["max_count"]) for b in bodies] == [(0, 100), (100, 50)]
    assert all(b["video_id"] == BIG_ID for b in bodies)  # sent as a number, exactly
    assert (quota.requests, quota.records) == (2, 150)


def test_an_exhausted_daily_quota_stops_at_once_and_names_the_reset(
    api: respx.MockRouter, client: ResearchClient, quota: CountingQuota, clock: ManualClock
) -> None:
    api.post(TOKEN).mock(return_value=token_ok())
    query = api.post(QUERY).mock(
        return_value=display_error(429, "daily_quota_limit_exceeded", "quota exceeded")
    )
    day = date(2026, 3, 1)
    with pytest.raises(ResearchQuotaExhausted) as caught:
        client.videos({"and": []}, day, day)

    assert query.call_count == 1  # not retried like a throttle
    assert clock.sleeps == []
    assert caught.value.resets_at == "2026-01-02 00:00 UTC"
    assert "resets at 2026-01-02 00:00 UTC" in str(caught.value)
    assert (quota.requests, quota.refusals) == (0, 1)


def test_a_short_term_rate_limit_is_retried(api: respx.MockRouter, client: ResearchClient) -> None:
    api.post(TOKEN).mock(return_value=token_ok())
    query = api.post(QUERY).mock(
        side_effect=[
            display_error(429, "rate_limit_exceeded"),
            display_ok({"videos": [], "cursor": 0, "has_more": False, "search_id": "s"}),
        ]
    )
    day = date(2026, 3, 1)
    client.videos({"and": []}, day, day)
    assert query.call_count == 2


def test_invalid_params_is_a_final_error_with_tiktoks_message(
    api: respx.MockRouter, client: ResearchClient
) -> None:
    api.post(TOKEN).mock(return_value=token_ok())
    api.post(QUERY).mock(return_value=display_error(400, "invalid_params", "bad field_name"))
    day = date(2026, 3, 1)
    with pytest.raises(ApiError, match=r"invalid_params.*bad field_name"):
        client.videos({"and": []}, day, day)


def test_a_refused_app_credential_never_shows_the_secret(
    api: respx.MockRouter, client: ResearchClient
) -> None:
    api.post(TOKEN).mock(
        return_value=httpx.Response(
            401,
            json={"error": "invalid_client", "error_description": f"bad secret {SECRET}"},
        )
    )
    day = date(2026, 3, 1)
    with pytest.raises(OAuthError) as caught:
        client.videos({"and": []}, day, day)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert "invalid_client" in str(caught.value)


def test_windows_longer_than_30_days_are_refused_for_a_single_page(
    client: ResearchClient,
) -> None:
    with pytest.raises(ValueError, match="1 to 30 days"):
        client.query_videos_page({}, date(2026, 1, 1), date(2026, 1, 31))


def test_a_video_listed_on_two_pages_is_kept_once(
    api: respx.MockRouter, client: ResearchClient
) -> None:
    api.post(TOKEN).mock(return_value=token_ok())
    day = date(2026, 3, 1)
    api.post(QUERY).mock(
        side_effect=[
            display_ok({"videos": [video(1, day), video(2, day)], "cursor": 2,
                        "has_more": True, "search_id": "s"}),
            display_ok({"videos": [video(2, day), video(3, day)], "cursor": 4,
                        "has_more": False, "search_id": "s"}),
        ]
    )  # fmt: skip
    found = client.videos({"and": []}, day, day, max_count=2)
    assert [v.id for v in found.items] == ["1", "2", "3"]


def test_a_search_whose_cursor_stops_moving_is_incomplete_not_quietly_short(
    api: respx.MockRouter, client: ResearchClient
) -> None:
    from tiktok_etl.api import IncompleteListing

    api.post(TOKEN).mock(return_value=token_ok())
    day = date(2026, 3, 1)
    api.post(QUERY).mock(
        return_value=display_ok(
            {"videos": [video(1, day)], "cursor": 0, "has_more": True, "search_id": "s"}
        )
    )
    with pytest.raises(IncompleteListing, match="did not advance"):
        client.videos({"and": []}, day, day)
