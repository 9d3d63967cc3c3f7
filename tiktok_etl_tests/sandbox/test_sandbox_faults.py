"""Fault injection, the enforced rate limit and the usage counters."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tiktok_etl.sandbox import FaultConfig, SandboxApp, SandboxClock

from .helpers import BUSINESS, access, bearer, fixture

USER_INFO = "/v2/user/info/"


def client_for(app: SandboxApp) -> httpx.Client:
    return httpx.Client(transport=app.as_transport(), base_url="https://sandbox.test")


def display_get(client: httpx.Client, token: dict[str, Any]) -> httpx.Response:
    return client.get(USER_INFO, params={"fields": "open_id"}, headers=bearer(token))


def business_get(client: httpx.Client, token: dict[str, Any]) -> httpx.Response:
    return client.get(
        BUSINESS + "business/get/", params={"business_id": "biz-1"}, headers=access(token)
    )


def outcomes(app: SandboxApp, count: int) -> list[str]:
    token = app.issue_tokens("acct-1")
    seen = []
    with client_for(app) as client:
        for _ in range(count):
            try:
                response = display_get(client, token)
            except httpx.RemoteProtocolError:
                seen.append("drop")
            else:
                seen.append(str(response.status_code))
    return seen


FAULTS = FaultConfig(rate_429=0.1, rate_5xx=0.05, rate_html_504=0.05, rate_drop=0.05, seed=3)


def test_faults_follow_the_seed_deterministically(make_app: Callable[..., SandboxApp]) -> None:
    first = outcomes(make_app(faults=FAULTS), 300)
    assert first == outcomes(make_app(faults=FAULTS), 300)
    assert first != outcomes(make_app(faults=dataclasses.replace(FAULTS, seed=4)), 300)


def test_faults_happen_at_the_configured_rates(make_app: Callable[..., SandboxApp]) -> None:
    app = make_app(faults=FAULTS)
    seen = Counter(outcomes(app, 2000))
    assert 150 <= seen["429"] <= 250
    assert 60 <= seen["500"] <= 140
    assert 60 <= seen["504"] <= 140
    assert 60 <= seen["drop"] <= 140
    stats = app.stats.snapshot()
    assert stats["faults"] == {
        "429": seen["429"],
        "5xx": seen["500"],
        "html_504": seen["504"],
        "drop": seen["drop"],
    }
    assert stats["requests"][USER_INFO] == 2000


def test_fault_bodies_look_like_the_real_thing(make_app: Callable[..., SandboxApp]) -> None:
    with client_for(app := make_app(faults=FaultConfig(rate_html_504=1.0))) as client:
        response = display_get(client, app.issue_tokens("acct-1"))
    assert response.status_code == 504
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.lstrip().startswith("<html>")

    with client_for(app := make_app(faults=FaultConfig(rate_429=1.0))) as client:
        response = display_get(client, app.issue_tokens("acct-1"))
    documented = fixture("display_error_rate_limited.json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == documented["error"]["code"]


def test_business_throttle_is_40100_on_http_200(make_app: Callable[..., SandboxApp]) -> None:
    app = make_app(faults=FaultConfig(rate_40100=1.0))
    with client_for(app) as client:
        business = business_get(client, app.issue_tokens("biz-1", "business"))
        display = display_get(client, app.issue_tokens("acct-1"))
    documented = fixture("business_rate_limited.json")
    assert business.status_code == 200
    assert business.json().keys() == documented.keys()
    assert business.json()["code"] == 40100
    assert display.status_code == 200


def test_dropped_connection_raises_in_process(make_app: Callable[..., SandboxApp]) -> None:
    app = make_app(faults=FaultConfig(rate_drop=1.0))
    with client_for(app) as client, pytest.raises(httpx.RemoteProtocolError):
        display_get(client, app.issue_tokens("acct-1"))


def test_admin_routes_are_never_faulted(make_app: Callable[..., SandboxApp]) -> None:
    app = make_app(faults=FaultConfig(rate_drop=1.0, rate_limit_per_minute=1))
    with client_for(app) as client:
        for _ in range(3):
            assert client.get("/sandbox/stats").status_code == 200
    assert app.stats.snapshot()["requests_total"] == 0


def test_rate_limit_is_enforced_per_endpoint_in_a_sliding_minute(
    make_app: Callable[..., SandboxApp], clock: SandboxClock
) -> None:
    app = make_app(faults=FaultConfig(rate_limit_per_minute=5))
    token = app.issue_tokens("acct-1")
    with client_for(app) as client:
        for _ in range(5):
            assert display_get(client, token).status_code == 200
            clock.advance(10)
        over = display_get(client, token)
        other_endpoint = client.post(
            "/v2/video/list/", params={"fields": "id"}, json={}, headers=bearer(token)
        )
        clock.advance(11)  # the first request has left the window
        again = display_get(client, token)
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "rate_limit_exceeded"
    assert other_endpoint.status_code == 200
    assert again.status_code == 200
    stats = app.stats.snapshot()
    assert stats["rate_limit_violations"] == {USER_INFO: 1}
    assert stats["max_requests_per_minute"][USER_INFO] == 6


def test_business_rate_limit_answers_40100(
    make_app: Callable[..., SandboxApp],
) -> None:
    app = make_app(faults=FaultConfig(rate_limit_per_minute=2))
    token = app.issue_tokens("biz-1", "business")
    with client_for(app) as client:
        codes = [business_get(client, token).json()["code"] for _ in range(3)]
    assert codes == [0, 0, 40100]


def test_faults_can_be_changed_through_the_admin_route(app: SandboxApp) -> None:
    token = app.issue_tokens("acct-1")
    with client_for(app) as client:
        assert client.post("/sandbox/faults", json={"rate_429": 1.0}).status_code == 200
        assert display_get(client, token).status_code == 429
        assert client.post("/sandbox/faults", json={"bogus": 1}).status_code == 400
        assert client.post("/sandbox/faults", json={}).status_code == 200
        assert display_get(client, token).status_code == 200


def test_latency_advances_a_manual_clock_in_process(
    make_app: Callable[..., SandboxApp], clock: SandboxClock
) -> None:
    app = make_app(faults=FaultConfig(latency=2.5))
    before = clock()
    with client_for(app) as client:
        display_get(client, app.issue_tokens("acct-1"))
    assert (clock() - before).total_seconds() == 2.5


def test_stats_reset(app: SandboxApp) -> None:
    with client_for(app) as client:
        display_get(client, app.issue_tokens("acct-1"))
        assert client.get("/sandbox/stats").json()["requests_total"] == 1
        client.post("/sandbox/stats/reset")
        assert client.get("/sandbox/stats").json()["requests_total"] == 0
