"""Whatever one record holds, parsing settles it: a typed value, None, or a reject."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from tiktok_etl.api import BusinessComment, BusinessVideo
from tiktok_etl.api.pagination import parse_records

GOOD = {"item_id": "v1", "create_time": "1762300000", "likes": 3}


@pytest.mark.parametrize(
    "create_time", ["inf", "-inf", "nan", 1e300, math.inf, math.nan, -5, 2**70, 10**400, "x"]
)
def test_an_impossible_create_time_rejects_the_record_without_raising(create_time: Any) -> None:
    items, rejects = parse_records(
        [{**GOOD, "create_time": create_time}, GOOD], BusinessVideo.from_payload, "video"
    )
    assert [v.item_id for v in items] == ["v1"]
    (reject,) = rejects
    assert "create_time" in reject.reason


@pytest.mark.parametrize(
    ("likes", "typed"),
    [
        (2**70, None),
        (-(2**64), None),
        (math.nan, None),
        (math.inf, None),
        ("NaN", None),
        ("Infinity", None),
        ("1e300", None),
        ("42", 42),
        (7.0, 7),
        (2**63 - 1, 2**63 - 1),
    ],
)
def test_a_count_storage_cannot_hold_is_none_and_raw_keeps_it(likes: Any, typed: Any) -> None:
    video = BusinessVideo.from_payload({**GOOD, "likes": likes})
    assert video.likes == typed
    assert video.raw["likes"] is likes


def test_a_fractional_count_is_still_a_reject() -> None:
    items, rejects = parse_records([{**GOOD, "likes": 1.5}], BusinessVideo.from_payload, "video")
    assert not items and "likes" in rejects[0].reason


def test_a_record_whose_build_raises_anything_is_rejected() -> None:
    def build(payload: Any) -> Any:
        raise OverflowError("no validator foresaw this")

    items, rejects = parse_records([GOOD], build, "video")
    assert not items and rejects[0].reason == "no validator foresaw this"


def test_hostile_text_and_unknown_fields_pass_validation() -> None:
    comment = BusinessComment.from_payload(
        {
            "comment_id": "c1",
            "video_id": "v1",
            "create_time": 1762300000,
            "text": "\x00\ud800",
            "new": {"nested": [math.nan]},
        }
    )
    assert comment.text == "\x00\ud800"  # cleaned by storage, one way for every writer
    assert comment.create_time == datetime.fromtimestamp(1762300000, tz=UTC)
