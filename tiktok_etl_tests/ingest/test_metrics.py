"""Shaping metric history: breakdown rows and rejects, daily account metrics, observability."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from tiktok_etl.api import BusinessVideo, DisplayVideo
from tiktok_etl.ingest.metrics import (
    breakdown_rows,
    not_observable,
    parse_business_metrics,
    video_metric_row,
)

NOW = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)
DAY = date(2026, 11, 10)


def _business_video(**fields: Any) -> BusinessVideo:
    return BusinessVideo.from_payload(
        {"item_id": "7300000000000000001", "create_time": "1762700000", **fields}
    )


def test_breakdowns_become_typed_rows_one_per_key() -> None:
    video = _business_video(
        audience_countries=[
            {"country": "US", "percentage": 0.6},
            {"country": "DE", "percentage": "0.4"},
        ],
        impression_sources=[{"impression_source": "For You", "percentage": 1}],
    )
    rows, rejects = breakdown_rows("brand", DAY, video)
    assert rejects == []
    assert [(r["dimension"], r["key"], r["share"]) for r in rows] == [
        ("audience_countries", "US", 0.6),
        ("audience_countries", "DE", 0.4),
        ("impression_sources", "For You", 1.0),
    ]
    assert all(
        (r["account_key"], r["date"], r["video_id"]) == ("brand", DAY, video.item_id) for r in rows
    )


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("US", "entry is not an object"),
        ({"percentage": 0.5}, "country must be a non-empty string"),
        ({"country": "  ", "percentage": 0.5}, "country must be a non-empty string"),
        ({"country": "FR", "percentage": "lots"}, "percentage must be a number"),
        ({"country": "FR", "percentage": float("nan")}, "finite number from 0 to 1"),
        ({"country": "FR", "percentage": 1.5}, "finite number from 0 to 1"),
        ({"country": "FR", "percentage": True}, "percentage must be a number"),
        ({"country": "FR"}, "percentage must be a number"),
        ({"country": "US", "percentage": 0.1}, "'US' appears twice"),
    ],
)
def test_a_malformed_breakdown_entry_is_rejected_with_its_reason_and_the_rest_kept(
    entry: Any, reason: str
) -> None:
    video = _business_video(audience_countries=[{"country": "US", "percentage": 0.5}, entry])
    rows, rejects = breakdown_rows("brand", DAY, video)
    assert [r["key"] for r in rows] == ["US"]
    assert len(rejects) == 1
    assert reason in rejects[0].reason
    assert rejects[0].kind == "business_video_audience_countries"
    assert rejects[0].payload == {
        "video_id": video.item_id,
        "dimension": "audience_countries",
        "entry": entry,
    }


def test_a_breakdown_that_is_not_a_list_is_one_reject() -> None:
    rows, rejects = breakdown_rows("brand", DAY, _business_video(impression_sources={"For You": 1}))
    assert rows == []
    assert [r.reason for r in rejects] == ["impression_sources is not a list"]


def test_display_snapshots_have_no_business_only_metrics() -> None:
    video = DisplayVideo.from_payload(
        {"id": "7300000000000000002", "create_time": 1762700000, "view_count": 10, "like_count": 2}
    )
    row = video_metric_row("display", "creator", DAY, video, NOW)
    assert (row["view_count"], row["like_count"], row["comment_count"]) == (10, 2, None)
    assert row["reach"] is None and row["full_video_watched_rate"] is None
    assert (row["api"], row["observed_at"], row["date"]) == ("display", NOW, DAY)


def test_business_snapshots_take_every_analytics_field() -> None:
    video = _business_video(video_views=100, likes=5, comments=2, shares=1, reach=80,
                            full_video_watched_rate=0.25, total_time_watched=900,
                            average_time_watched=9)  # fmt: skip
    row = video_metric_row("business", "brand", DAY, video, NOW)
    assert (row["view_count"], row["like_count"], row["comment_count"], row["share_count"]) == (
        100, 5, 2, 1,
    )  # fmt: skip
    assert (row["reach"], row["full_video_watched_rate"]) == (80, 0.25)
    assert (row["total_time_watched"], row["average_time_watched"]) == (900.0, 9.0)
    assert isinstance(row["total_time_watched"], float)


def test_daily_account_metrics_keep_known_fields_typed_and_the_rest_in_extra() -> None:
    days = parse_business_metrics(
        "brand",
        [
            {"date": "2026-11-08", "followers_count": 10, "profile_views": "3", "likes": 4.0,
             "bio_link_clicks": 2, "audience_activity": [{"hour": "1", "count": 5}]},
            {"date": "2026-11-09", "followers_count": 11},
        ],
        NOW,
    )  # fmt: skip
    assert days.rejects == []
    first = days.rows[date(2026, 11, 8)]
    assert (first["followers_count"], first["profile_views"], first["likes"]) == (10, 3, 4)
    assert first["video_views"] is None
    assert first["extra"] == {
        "bio_link_clicks": 2,
        "audience_activity": [{"hour": "1", "count": 5}],
    }
    assert days.rows[date(2026, 11, 9)]["extra"] == {}
    assert days.notes["days_written"] == 2


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"followers_count": 1}, "date must be a YYYY-MM-DD string"),
        ({"date": "yesterday"}, "date must be a YYYY-MM-DD string"),
        ({"date": "2026-11-08", "likes": "many"}, "likes must be an integer"),
        ({"date": "2026-11-08", "shares": 1.5}, "shares must be an integer"),
        ({"date": "2026-11-08", "comments": 2**70}, "comments must be an integer"),
        ("2026-11-08", "entry is not an object"),
    ],
)
def test_a_malformed_daily_entry_is_rejected_never_fatal(entry: Any, reason: str) -> None:
    days = parse_business_metrics("brand", [entry, {"date": "2026-11-09", "likes": 1}], NOW)
    assert list(days.rows) == [date(2026, 11, 9)]
    assert [r.reason for r in days.rejects] == [reason]


def test_only_today_can_be_observed() -> None:
    assert not_observable(DAY, NOW) is None
    past = not_observable(date(2026, 11, 9), NOW)
    assert past is not None and "cannot be observed retroactively" in past
    assert "future" in (not_observable(date(2026, 11, 11), NOW) or "")
