"""BusinessClient asks for daily account metrics with TikTok's documented date bounds (respx)."""

from __future__ import annotations

import json
from datetime import date

import pytest
import respx

from tiktok_etl.api import BusinessClient, StaticTokenProvider, Transport

from .conftest import BUSINESS, BUSINESS_ID, business_ok

PROFILE = f"{BUSINESS}/business/get/"


@pytest.fixture
def client(transport: Transport) -> BusinessClient:
    return BusinessClient(transport, StaticTokenProvider("act.BIZ"), BUSINESS_ID, base_url=BUSINESS)


def test_metrics_are_asked_for_by_field_and_bounded_by_start_and_end_date(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    daily = [{"date": "2026-11-08", "followers_count": 10, "profile_views": 3}]
    route = api.get(PROFILE).mock(return_value=business_ok({"metrics": daily}))

    user = client.get_profile(
        ("metrics",), start_date=date(2026, 9, 10), end_date=date(2026, 11, 8)
    )

    params = dict(route.calls.last.request.url.params)
    assert params == {
        "business_id": BUSINESS_ID,
        "fields": json.dumps(["metrics"], separators=(",", ":")),
        "start_date": "2026-09-10",
        "end_date": "2026-11-08",
    }
    assert user.metrics == daily


def test_without_dates_no_date_parameter_is_sent(
    api: respx.MockRouter, client: BusinessClient
) -> None:
    route = api.get(PROFILE).mock(return_value=business_ok({"username": "brand"}))
    client.get_profile()
    assert not {"start_date", "end_date"} & set(route.calls.last.request.url.params)
