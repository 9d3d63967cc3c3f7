"""Records: strict identifiers, tolerant values, raw payload kept verbatim."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tiktok_etl.api import (
    BusinessComment,
    BusinessUser,
    BusinessVideo,
    DisplayUser,
    DisplayVideo,
)

from .conftest import load_fixture


def test_display_video_fixture_parses_with_utc_create_time() -> None:
    payload = load_fixture("display_video_list.json")["data"]["videos"][0]

    video = DisplayVideo.from_payload(payload)

    assert video.id == "7080213458555737986"
    assert video.create_time == datetime(2022, 3, 28, 20, 40, tzinfo=UTC)
    assert video.view_count == 100000
    assert video.embed_html is None


def test_numeric_ids_become_strings() -> None:
    video = DisplayVideo.from_payload({"id": 7080213458555737986, "create_time": 1})

    assert video.id == "7080213458555737986"


def test_integral_float_ids_are_accepted() -> None:
    assert BusinessVideo.from_payload({"item_id": 42.0, "create_time": 1}).item_id == "42"


@pytest.mark.parametrize("bad_id", [True, 1.5, "", "   ", None, [1]])
def test_unusable_ids_are_rejected(bad_id: object) -> None:
    with pytest.raises(ValidationError):
        DisplayVideo.from_payload({"id": bad_id, "create_time": 1})


def test_missing_id_is_rejected() -> None:
    with pytest.raises(ValidationError):
        BusinessComment.from_payload({"video_id": "1", "create_time": "1"})


def test_counts_sent_as_strings_become_ints() -> None:
    video = BusinessVideo.from_payload(
        {"item_id": "1", "create_time": "1655200000", "likes": "123", "video_views": "4567"}
    )

    assert (video.likes, video.video_views) == (123, 4567)


@pytest.mark.parametrize(
    "value",
    [1655461098, "1655461098", 1655461098000, "1655461098000", 1655461098.0],
    ids=["int-seconds", "string-seconds", "int-ms", "string-ms", "float-seconds"],
)
def test_create_time_accepts_seconds_and_milliseconds(value: object) -> None:
    comment = BusinessComment.from_payload(
        {"comment_id": "1", "video_id": "2", "create_time": value}
    )

    assert comment.create_time == datetime(2022, 6, 17, 10, 18, 18, tzinfo=UTC)


def test_missing_optional_fields_are_none() -> None:
    user = DisplayUser.from_payload({"open_id": "abc"})

    assert user.display_name is None
    assert user.follower_count is None
    assert user.is_verified is None


def test_unknown_fields_are_kept_as_extras() -> None:
    video = DisplayVideo.from_payload({"id": "1", "create_time": 1, "brand_new_field": {"a": 1}})

    assert video.model_extra == {"brand_new_field": {"a": 1}}


def test_raw_holds_the_payload_exactly_and_independently() -> None:
    payload = {
        "comment_id": 7110150495453840130,
        "video_id": "7109065174526479622",
        "create_time": "1655461098",
        "likes": "3",
        "nested": {"list": [1, 2]},
    }
    original = copy.deepcopy(payload)

    comment = BusinessComment.from_payload(payload)
    payload["nested"]["list"].append(3)

    assert comment.raw == original
    assert comment.comment_id == "7110150495453840130"
    assert comment.raw["comment_id"] == 7110150495453840130


def test_business_comment_fixture_parses_including_string_create_time() -> None:
    payloads = load_fixture("business_comment_list.json")["data"]["comments"]

    comments = [BusinessComment.from_payload(payload) for payload in payloads]

    assert [c.comment_id for c in comments] == ["7110150495453840130", "7111907185164763905"]
    assert comments[0].replies == 11
    assert comments[0].parent_comment_id is None
    assert comments[1].create_time == datetime(2022, 6, 22, 3, 53, 25, tzinfo=UTC)


def test_reply_fixture_keeps_its_parent() -> None:
    payload = load_fixture("business_reply_list.json")["data"]["comments"][0]

    reply = BusinessComment.from_payload(payload)

    assert reply.parent_comment_id == "7111907185164763905"
    assert reply.unique_identifier is None
    assert reply.user_id == payload["user_id"]


def test_business_video_fixture_parses_analytics() -> None:
    payload = load_fixture("business_video_list.json")["data"]["videos"][0]

    video = BusinessVideo.from_payload(payload)

    assert video.video_duration == 21.5
    assert video.full_video_watched_rate == 0.41
    assert video.create_time == datetime(2022, 6, 14, 9, 46, 40, tzinfo=UTC)
    assert video.impression_sources is None


def test_business_user_takes_its_id_from_the_client_not_the_payload() -> None:
    payload = {"username": "brand", "followers_count": "10", "metrics": [{"date": "2026-01-01"}]}

    user = BusinessUser.from_payload(payload, business_id="open-1")

    assert user.business_id == "open-1"
    assert user.followers_count == 10
    assert user.raw == payload
