"""The sandbox serves metric growth over its time and a bounded daily account history."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tiktok_etl.sandbox import SandboxApp, SandboxClock

from .helpers import BUSINESS, START, access

DAY_SECONDS = 86_400


@pytest.fixture
def token(app: SandboxApp) -> dict[str, Any]:
    return app.issue_tokens("biz-1", "business")


def _metrics(client: httpx.Client, token: dict[str, Any], **params: str) -> Any:
    response = client.get(
        BUSINESS + "business/get/",
        params={"business_id": "biz-1", "fields": json.dumps(["metrics"]), **params},
        headers=access(token),
    )
    assert response.status_code == 200
    return response.json()


def test_start_and_end_date_bound_the_daily_metrics(
    client: httpx.Client, token: dict[str, Any]
) -> None:
    body = _metrics(client, token, start_date="2026-10-01", end_date="2026-10-03")
    assert [m["date"] for m in body["data"]["metrics"]] == [
        "2026-10-01",
        "2026-10-02",
        "2026-10-03",
    ]


def test_only_the_last_sixty_complete_days_exist(
    client: httpx.Client, token: dict[str, Any]
) -> None:
    body = _metrics(client, token, start_date="2026-01-01", end_date="2026-12-31")
    days = [date.fromisoformat(m["date"]) for m in body["data"]["metrics"]]
    assert len(days) == 60
    assert days[-1] == START.date() - timedelta(days=1)
    assert days[0] == START.date() - timedelta(days=60)


@pytest.mark.parametrize(
    "params",
    [{"start_date": "2026/10/01"}, {"start_date": "2026-10-03", "end_date": "2026-10-01"}],
)
def test_bad_dates_are_parameter_errors(
    client: httpx.Client, token: dict[str, Any], params: dict[str, str]
) -> None:
    assert _metrics(client, token, **params)["code"] == 40002


def test_video_metrics_grow_day_by_day(app: SandboxApp, clock: SandboxClock) -> None:
    window = (START - timedelta(days=30), START)
    curves: dict[str, list[dict[str, Any]]] = {}
    for _ in range(5):
        for video in app.world.business_videos("biz-1", *window):
            curves.setdefault(video["item_id"], []).append(video)
        clock.advance(DAY_SECONDS)
    assert curves
    for points in curves.values():
        assert len(points) == 5
        for name in ("video_views", "likes", "reach", "total_time_watched"):
            values = [p[name] for p in points]
            assert values == sorted(values), name
    assert any(points[-1]["video_views"] > points[0]["video_views"] for points in curves.values())
