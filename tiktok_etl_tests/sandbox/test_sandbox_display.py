"""Display API v2 routes, read with raw httpx through the in-process transport."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from tiktok_etl.sandbox import SandboxApp

from .helpers import START, bearer, fixture

VIDEO_FIELDS = ",".join(fixture("display_video_list.json")["data"]["videos"][0])
USER_FIELDS = ",".join(fixture("display_user_info.json")["data"]["user"])


def list_videos(
    client: httpx.Client, token: dict[str, Any], cursor: int | None = None, max_count: int = 20
) -> httpx.Response:
    body: dict[str, Any] = {"max_count": max_count}
    if cursor is not None:
        body["cursor"] = cursor
    return client.post(
        "/v2/video/list/", params={"fields": VIDEO_FIELDS}, json=body, headers=bearer(token)
    )


def walk(client: httpx.Client, token: dict[str, Any]) -> list[dict[str, Any]]:
    pages, cursor, videos = 0, None, []
    while True:
        data = list_videos(client, token, cursor).json()["data"]
        videos.extend(data["videos"])
        pages += 1
        if not data["has_more"]:
            return videos
        cursor = data["cursor"]
        assert pages < 1000


def test_user_info_returns_only_requested_fields(app: SandboxApp, client: httpx.Client) -> None:
    token = app.issue_tokens("acct-1")
    response = client.get(
        "/v2/user/info/", params={"fields": "open_id,display_name"}, headers=bearer(token)
    )
    assert response.status_code == 200
    assert response.json()["data"]["user"] == {
        "open_id": "acct-1",
        "display_name": app.world.user("acct-1")["display_name"],
    }


def test_user_info_matches_fixture_shape(app: SandboxApp, client: httpx.Client) -> None:
    documented = fixture("display_user_info.json")
    token = app.issue_tokens("acct-1")
    body = client.get(
        "/v2/user/info/", params={"fields": USER_FIELDS}, headers=bearer(token)
    ).json()
    assert body.keys() == documented.keys()
    assert body["error"].keys() == documented["error"].keys()
    assert body["error"]["code"] == "ok"
    assert body["data"]["user"].keys() == documented["data"]["user"].keys()
    assert body["data"]["user"] == {
        key: value for key, value in app.world.user("acct-1").items() if key in USER_FIELDS
    }


def test_field_without_granted_scope_is_scope_permission_missed(
    app: SandboxApp, client: httpx.Client
) -> None:
    token = app.issue_tokens("acct-1", scopes=["user.info.basic", "video.list"])
    response = client.get(
        "/v2/user/info/", params={"fields": "open_id,follower_count"}, headers=bearer(token)
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "scope_permission_missed"


def test_video_list_without_video_scope_is_not_authorized(
    app: SandboxApp, client: httpx.Client
) -> None:
    token = app.issue_tokens("acct-1", scopes=["user.info.basic"])
    response = list_videos(client, token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "scope_not_authorized"


def test_missing_or_bad_token_is_access_token_invalid(client: httpx.Client) -> None:
    documented = fixture("display_error_token_invalid.json")
    for headers in ({}, {"Authorization": "Bearer act.nope"}):
        response = client.get("/v2/user/info/", params={"fields": "open_id"}, headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body.keys() == documented.keys()
        assert body["error"].keys() == documented["error"].keys()
        assert body["error"]["code"] == "access_token_invalid"


def test_video_list_matches_fixture_shape(app: SandboxApp, client: httpx.Client) -> None:
    documented = fixture("display_video_list.json")
    body = list_videos(client, app.issue_tokens("acct-1"), max_count=5).json()
    assert body.keys() == documented.keys()
    assert body["data"].keys() == documented["data"].keys()
    assert body["data"]["videos"]
    video_keys = documented["data"]["videos"][0].keys()
    assert all(video.keys() == video_keys for video in body["data"]["videos"])


def test_video_list_walk_returns_every_video_once_newest_first(
    make_app: Callable[..., SandboxApp],
) -> None:
    app = make_app(short_page_ratio=0.3)
    token = app.issue_tokens("acct-1")
    with httpx.Client(transport=app.as_transport(), base_url="https://sandbox.test") as client:
        walked = walk(client, token)
    truth = app.world.videos("acct-1", START - timedelta(days=61), START + timedelta(days=1))
    assert [video["id"] for video in walked] == [video["id"] for video in reversed(truth)]
    assert len({video["id"] for video in walked}) == len(walked)
    times = [video["create_time"] for video in walked]
    assert times == sorted(times, reverse=True)


def test_video_list_serves_short_pages_that_still_have_more(
    make_app: Callable[..., SandboxApp],
) -> None:
    app = make_app(short_page_ratio=0.5)
    token = app.issue_tokens("acct-1")
    with httpx.Client(transport=app.as_transport(), base_url="https://sandbox.test") as client:
        cursor, short = None, 0
        for _ in range(10):
            data = list_videos(client, token, cursor).json()["data"]
            short += len(data["videos"]) < 20 and data["has_more"]
            cursor = data["cursor"]
    assert short > 0


def test_video_list_cursor_is_milliseconds_strictly_before(
    app: SandboxApp, client: httpx.Client
) -> None:
    token = app.issue_tokens("acct-1")
    first = list_videos(client, token, max_count=3).json()["data"]
    newest = first["videos"][0]
    assert first["cursor"] == first["videos"][-1]["create_time"] * 1000

    at = list_videos(client, token, cursor=newest["create_time"] * 1000).json()["data"]
    assert newest["id"] not in [video["id"] for video in at["videos"]]
    assert all(video["create_time"] * 1000 < newest["create_time"] * 1000 for video in at["videos"])

    after = list_videos(client, token, cursor=newest["create_time"] * 1000 + 1).json()["data"]
    assert after["videos"][0]["id"] == newest["id"]


def test_video_list_past_history_is_empty_without_more(
    app: SandboxApp, client: httpx.Client
) -> None:
    cursor = int((START - timedelta(days=100)).timestamp() * 1000)
    data = list_videos(client, app.issue_tokens("acct-1"), cursor=cursor).json()["data"]
    assert data == {"videos": [], "cursor": cursor, "has_more": False}


def test_video_list_rejects_max_count_over_20(app: SandboxApp, client: httpx.Client) -> None:
    response = list_videos(client, app.issue_tokens("acct-1"), max_count=21)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_params"


def test_video_query_returns_the_requested_videos(app: SandboxApp, client: httpx.Client) -> None:
    token = app.issue_tokens("acct-1")
    truth = app.world.videos("acct-1", START - timedelta(days=5), START)[:3]
    ids = [video["id"] for video in truth] + ["7000000000000000000"]
    response = client.post(
        "/v2/video/query/",
        params={"fields": "id,create_time,cover_image_url,view_count"},
        json={"filters": {"video_ids": ids}},
        headers=bearer(token),
    )
    videos = response.json()["data"]["videos"]
    assert [video["id"] for video in videos] == ids[:3]
    assert videos[0]["view_count"] == truth[0]["view_count"]


def test_video_query_rejects_more_than_20_ids(app: SandboxApp, client: httpx.Client) -> None:
    response = client.post(
        "/v2/video/query/",
        params={"fields": "id"},
        json={"filters": {"video_ids": [str(n) for n in range(21)]}},
        headers=bearer(app.issue_tokens("acct-1")),
    )
    assert response.status_code == 400


def test_other_accounts_videos_are_not_served(app: SandboxApp, client: httpx.Client) -> None:
    other = app.world.videos("acct-2", START - timedelta(days=5), START)[0]["id"]
    response = client.post(
        "/v2/video/query/",
        params={"fields": "id"},
        json={"filters": {"video_ids": [other]}},
        headers=bearer(app.issue_tokens("acct-1")),
    )
    assert response.json()["data"]["videos"] == []
