"""The socket server answers exactly like the in-process transport, faults included."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import httpx
import pytest

from tiktok_etl.sandbox import FaultConfig, SandboxApp, SandboxServer

from .helpers import access, bearer

ID_KEYS = {"log_id", "request_id"}


def without_ids(body: Any) -> Any:
    if isinstance(body, dict):
        return {key: without_ids(value) for key, value in body.items() if key not in ID_KEYS}
    if isinstance(body, list):
        return [without_ids(item) for item in body]
    return body


@pytest.fixture
def server(app: SandboxApp) -> Iterator[SandboxServer]:
    with SandboxServer(app) as running:
        yield running


def requests_for(app: SandboxApp) -> list[tuple[str, str, dict[str, Any]]]:
    display = bearer(app.issue_tokens("acct-1"))
    business = access(app.issue_tokens("biz-1", "business"))
    video_id = app.world.business_videos("biz-1", date(2026, 11, 3))[0]["item_id"]
    return [
        ("GET", "/v2/user/info/", {"params": {"fields": "open_id,username"}, "headers": display}),
        (
            "POST",
            "/v2/video/list/",
            {
                "params": {"fields": "id,create_time,video_description"},
                "json": {"max_count": 20},
                "headers": display,
            },
        ),
        (
            "GET",
            "/open_api/v1.3/business/get/",
            {"params": {"business_id": "biz-1"}, "headers": business},
        ),
        (
            "GET",
            "/open_api/v1.3/business/comment/list/",
            {
                "params": {"business_id": "biz-1", "video_id": video_id, "include_replies": "true"},
                "headers": business,
            },
        ),
        ("GET", "/v2/user/info/", {"params": {"fields": "open_id"}}),
    ]


def test_server_serves_the_same_responses_as_the_transport(
    app: SandboxApp, server: SandboxServer
) -> None:
    with (
        httpx.Client(transport=app.as_transport(), base_url="https://sandbox.test") as local,
        httpx.Client(base_url=server.base_url) as remote,
    ):
        for method, path, options in requests_for(app):
            expected = local.request(method, path, **options)
            served = remote.request(method, path, **options)
            assert served.status_code == expected.status_code, path
            assert without_ids(served.json()) == without_ids(expected.json()), path


def test_business_base_url_is_under_the_same_host(server: SandboxServer) -> None:
    assert server.business_base_url == server.base_url + "/open_api/v1.3"


def test_dropped_connection_is_a_transport_error_for_the_client(
    make_app: Callable[..., SandboxApp],
) -> None:
    app = make_app(faults=FaultConfig(rate_drop=1.0))
    token = app.issue_tokens("acct-1")
    with SandboxServer(app) as server, httpx.Client(base_url=server.base_url) as client:
        with pytest.raises(httpx.TransportError):
            client.get("/v2/user/info/", params={"fields": "open_id"}, headers=bearer(token))
        assert client.get("/sandbox/stats").json()["faults"] == {"drop": 1}


def test_html_504_over_the_socket(make_app: Callable[..., SandboxApp]) -> None:
    app = make_app(faults=FaultConfig(rate_html_504=1.0))
    with SandboxServer(app) as server:
        response = httpx.get(server.base_url + "/v2/user/info/", params={"fields": "open_id"})
    assert response.status_code == 504
    assert response.headers["content-type"].startswith("text/html")


def test_latency_really_sleeps_in_server_mode(make_app: Callable[..., SandboxApp]) -> None:
    app = make_app(faults=FaultConfig(latency=0.2))
    token = app.issue_tokens("acct-1")
    with SandboxServer(app) as server:
        started = time.monotonic()
        httpx.get(
            server.base_url + "/v2/user/info/", params={"fields": "open_id"}, headers=bearer(token)
        )
        assert time.monotonic() - started >= 0.2


def test_admin_routes_and_redirects_over_the_socket(server: SandboxServer) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        issued = client.post("/sandbox/tokens", json={"open_id": "acct-5", "family": "display"})
        token = issued.json()
        assert client.get(
            "/v2/user/info/", params={"fields": "open_id"}, headers=bearer(token)
        ).json()["data"]["user"] == {"open_id": "acct-5"}
        consent = client.get(
            "/v2/auth/authorize/",
            params={
                "client_key": "ck",
                "response_type": "code",
                "scope": "user.info.basic",
                "redirect_uri": "http://localhost:9/cb",
                "state": "s1",
            },
        )
        assert consent.status_code == 302
        assert "state=s1" in consent.headers["location"]
        stats = client.get("/sandbox/stats").json()
    assert json.dumps(stats)
    assert stats["requests"]["/v2/user/info/"] == 1


def test_server_handles_concurrent_clients(app: SandboxApp, server: SandboxServer) -> None:
    token = app.issue_tokens("acct-1")

    def call(_: int) -> int:
        return httpx.get(
            server.base_url + "/v2/user/info/", params={"fields": "open_id"}, headers=bearer(token)
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(call, range(40))) == {200}
    assert app.stats.snapshot()["requests"]["/v2/user/info/"] == 40
