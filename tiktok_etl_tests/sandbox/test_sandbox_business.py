"""Business API v1.3 routes: account, videos, comments, replies and comment writes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tiktok_etl.sandbox import SandboxApp

from .helpers import BUSINESS, START, access, fixture

HISTORY = (START - timedelta(days=61), START + timedelta(days=1))


@pytest.fixture
def token(app: SandboxApp) -> dict[str, Any]:
    return app.issue_tokens("biz-1", "business")


def get(client: httpx.Client, token: dict[str, Any], path: str, **params: Any) -> dict[str, Any]:
    response = client.get(
        BUSINESS + path, params={"business_id": "biz-1", **params}, headers=access(token)
    )
    assert response.status_code == 200
    return response.json()


def post(client: httpx.Client, token: dict[str, Any], path: str, **body: Any) -> dict[str, Any]:
    response = client.post(
        BUSINESS + path, json={"business_id": "biz-1", **body}, headers=access(token)
    )
    assert response.status_code == 200
    return response.json()


def walk(
    client: httpx.Client, token: dict[str, Any], path: str, key: str, **params: Any
) -> list[dict[str, Any]]:
    cursor, items = 0, []
    while True:
        data = get(client, token, path, cursor=cursor, **params)["data"]
        items.extend(data[key])
        if not data["has_more"]:
            return items
        assert data["cursor"] == cursor + len(data[key])
        cursor = data["cursor"]


def heavy_video(app: SandboxApp) -> dict[str, Any]:
    return max(app.world.business_videos("biz-1", *HISTORY), key=lambda video: video["comments"])


def test_business_get_returns_default_fields_and_metrics(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    body = get(client, token, "business/get/")
    assert body["code"] == 0 and body["message"] == "OK" and body["request_id"]
    assert body["data"] == app.world.business_account("biz-1")
    metrics = get(client, token, "business/get/", fields=json.dumps(["metrics"]))["data"]
    assert list(metrics) == ["metrics"] and len(metrics["metrics"]) == 60


def test_video_list_matches_fixture_shape(client: httpx.Client, token: dict[str, Any]) -> None:
    documented = fixture("business_video_list.json")
    body = get(client, token, "business/video/list/", max_count=5)
    assert body.keys() == documented.keys()
    assert body["data"].keys() == documented["data"].keys()
    keys = documented["data"]["videos"][0].keys()
    assert all(video.keys() == keys for video in body["data"]["videos"])
    assert all(isinstance(video["create_time"], str) for video in body["data"]["videos"])


def test_video_list_returns_only_requested_fields(
    client: httpx.Client, token: dict[str, Any]
) -> None:
    fields = ["item_id", "reach", "audience_countries"]
    videos = get(client, token, "business/video/list/", fields=json.dumps(fields))["data"]["videos"]
    assert all(list(video) == fields for video in videos)


def test_video_list_offset_walk_returns_every_video_once(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    walked = walk(client, token, "business/video/list/", "videos", max_count=20)
    truth = app.world.business_videos("biz-1", *HISTORY)
    assert walked == list(reversed(truth))


def test_video_list_filters_by_video_ids(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    wanted = [video["item_id"] for video in app.world.business_videos("biz-1", *HISTORY)[:2]]
    body = get(client, token, "business/video/list/", filters=json.dumps({"video_ids": wanted}))
    assert [video["item_id"] for video in body["data"]["videos"]] == wanted


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("business/video/list/", {"max_count": 21}),
        ("business/video/list/", {"fields": "item_id"}),
        ("business/video/list/", {"fields": json.dumps(["nope"])}),
        ("business/comment/list/", {"video_id": "1", "max_count": 31}),
        ("business/comment/list/", {}),
    ],
)
def test_bad_parameters_are_40002_on_http_200(
    client: httpx.Client, token: dict[str, Any], path: str, params: dict[str, Any]
) -> None:
    assert get(client, token, path, **params)["code"] == 40002


def test_other_business_id_is_refused(client: httpx.Client, token: dict[str, Any]) -> None:
    response = client.get(
        BUSINESS + "business/get/", params={"business_id": "biz-2"}, headers=access(token)
    )
    assert response.json()["code"] == 40001


def test_comment_list_matches_fixture_shape(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    documented = fixture("business_comment_list.json")
    video = heavy_video(app)
    body = get(client, token, "business/comment/list/", video_id=video["item_id"])
    assert body.keys() == documented.keys()
    assert body["data"].keys() == documented["data"].keys()
    keys = documented["data"]["comments"][0].keys()
    assert all(comment.keys() == keys for comment in body["data"]["comments"])


def test_comment_walk_desc_returns_every_comment_once_in_order(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    video = heavy_video(app)
    assert video["comments"] >= 300
    walked = walk(
        client,
        token,
        "business/comment/list/",
        "comments",
        video_id=video["item_id"],
        max_count=30,
        sort_field="create_time",
        sort_order="desc",
        include_replies="true",
    )
    assert len(walked) == video["comments"]
    assert len({comment["comment_id"] for comment in walked}) == len(walked)
    times = [int(comment["create_time"]) for comment in walked]
    assert times == sorted(times, reverse=True)
    truth = [
        comment
        for comment in app.world.comments("biz-1", *HISTORY)
        if comment["video_id"] == video["item_id"]
    ]
    assert sorted(walked, key=lambda c: c["comment_id"]) == sorted(
        truth, key=lambda c: c["comment_id"]
    )


def test_comment_list_without_replies_counts_top_level_only(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    video = heavy_video(app)
    top = walk(
        client, token, "business/comment/list/", "comments", video_id=video["item_id"], max_count=30
    )
    assert all("parent_comment_id" not in comment for comment in top)
    assert len(top) + sum(comment["replies"] for comment in top) == video["comments"]


def test_comment_sort_by_likes(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    video = heavy_video(app)
    comments = get(
        client,
        token,
        "business/comment/list/",
        video_id=video["item_id"],
        max_count=30,
        sort_field="likes",
        sort_order="desc",
    )["data"]["comments"]
    likes = [comment["likes"] for comment in comments]
    assert likes == sorted(likes, reverse=True) and likes[0] > 0


def test_reply_list_matches_fixture_shape(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    documented = fixture("business_reply_list.json")
    video = heavy_video(app)
    top = walk(
        client, token, "business/comment/list/", "comments", video_id=video["item_id"], max_count=30
    )
    parent = max(top, key=lambda comment: comment["replies"])
    body = get(
        client,
        token,
        "business/comment/reply/list/",
        video_id=video["item_id"],
        comment_id=parent["comment_id"],
        max_count=30,
    )
    assert body["data"].keys() == documented["data"].keys()
    replies = body["data"]["comments"]
    assert len(replies) == parent["replies"]
    # documented reply keys, plus unique_identifier (which replaces the deprecated user_id)
    keys = set(documented["data"]["comments"][0]) | {"unique_identifier"}
    assert all(reply.keys() == keys for reply in replies)
    assert {reply["parent_comment_id"] for reply in replies} == {parent["comment_id"]}


def test_comment_create_reply_and_delete(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    video = app.world.business_videos("biz-1", *HISTORY)[-1]
    created = post(
        client, token, "business/comment/create/", video_id=video["item_id"], text="Thanks 🙏"
    )["data"]
    assert created["owner"] is True and created["text"] == "Thanks 🙏"
    reply = post(
        client,
        token,
        "business/comment/reply/create/",
        video_id=video["item_id"],
        comment_id=created["comment_id"],
        text="and again",
    )["data"]
    assert reply["parent_comment_id"] == created["comment_id"]
    counted = get(
        client, token, "business/video/list/", filters=json.dumps({"video_ids": [video["item_id"]]})
    )
    assert counted["data"]["videos"][0]["comments"] == video["comments"] + 2

    assert (
        post(client, token, "business/comment/delete/", comment_id=created["comment_id"])["code"]
        == 0
    )
    listed = walk(
        client,
        token,
        "business/comment/list/",
        "comments",
        video_id=video["item_id"],
        include_replies="true",
        max_count=30,
    )
    assert {created["comment_id"], reply["comment_id"]}.isdisjoint(c["comment_id"] for c in listed)
    assert (
        post(client, token, "business/comment/delete/", comment_id=created["comment_id"])["code"]
        == 40001
    )


def test_generated_comment_can_be_deleted(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    video = heavy_video(app)
    victim = get(client, token, "business/comment/list/", video_id=video["item_id"])["data"][
        "comments"
    ][0]
    assert (
        post(client, token, "business/comment/delete/", comment_id=victim["comment_id"])["code"]
        == 0
    )
    after = get(client, token, "business/comment/list/", video_id=video["item_id"])["data"][
        "comments"
    ]
    assert victim["comment_id"] not in {comment["comment_id"] for comment in after}


def test_comment_text_over_150_characters_is_rejected(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    video = app.world.business_videos("biz-1", *HISTORY)[-1]
    body = post(
        client, token, "business/comment/create/", video_id=video["item_id"], text="x" * 151
    )
    assert body["code"] == 40002


def test_drop_after_apply_applies_the_write_then_loses_the_answer(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    from tiktok_etl.sandbox.faults import FaultConfig

    video = app.world.business_videos("biz-1", *HISTORY)[-1]
    app.set_faults(FaultConfig(drop_after_apply=1))
    # a refused write is not applied, so it neither drops nor uses up the fault
    refused = post(client, token, "business/comment/create/", video_id=video["item_id"], text="")
    assert refused["code"] != 0
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(
            BUSINESS + "business/comment/create/",
            json={"business_id": "biz-1", "video_id": video["item_id"], "text": "lost answer"},
            headers=access(token),
        )
    again = post(client, token, "business/comment/create/", video_id=video["item_id"], text="ok")
    assert again["code"] == 0
    listed = walk(
        client, token, "business/comment/list/", "comments", video_id=video["item_id"],
        max_count=30,
    )  # fmt: skip
    assert [c["text"] for c in listed].count("lost answer") == 1
    assert app.stats.snapshot()["faults"] == {"drop_after_apply": 1}


def test_comment_hide_and_unhide_change_what_public_listings_show(
    app: SandboxApp, client: httpx.Client, token: dict[str, Any]
) -> None:
    video = heavy_video(app)
    first = get(client, token, "business/comment/list/", video_id=video["item_id"])["data"]
    target = first["comments"][0]["comment_id"]

    def statuses(status: str) -> dict[str, str]:
        listed = walk(
            client, token, "business/comment/list/", "comments", video_id=video["item_id"],
            max_count=30, status=status,
        )  # fmt: skip
        return {c["comment_id"]: c["status"] for c in listed}

    hide = {"video_id": video["item_id"], "comment_id": target}
    assert post(client, token, "business/comment/hide/", **hide, action="HIDE")["code"] == 0
    assert post(client, token, "business/comment/hide/", **hide, action="HIDE")["code"] == 0
    assert target not in statuses("PUBLIC")
    assert statuses("ALL")[target] == "HIDDEN"
    assert post(client, token, "business/comment/hide/", **hide, action="UNHIDE")["code"] == 0
    assert statuses("PUBLIC")[target] == "PUBLIC"
    refused = post(client, token, "business/comment/hide/", **hide, action="BURY")
    assert refused["code"] != 0
