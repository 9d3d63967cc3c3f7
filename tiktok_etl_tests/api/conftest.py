"""Shared test helpers for tiktok_etl.api: fixture bodies, a manual clock, respx routers."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from tiktok_etl.api import ManualClock, RetryPolicy, Transport, UnlimitedLimiter

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "tiktok"

DISPLAY = "https://open.tiktokapis.com"
BUSINESS = "https://business-api.tiktok.com/open_api/v1.3"
AUTHORIZE = "https://www.tiktok.com/v2/auth/authorize/"
BUSINESS_ID = "-000Ssgm4E8bHd6i6dTWP2YQgmgLxfIgtu4f"


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def display_ok(data: Any) -> httpx.Response:
    return httpx.Response(
        200, json={"data": data, "error": {"code": "ok", "message": "", "log_id": "LOG-OK"}}
    )


def display_error(
    status: int, code: str, message: str = "", log_id: str = "LOG-1"
) -> httpx.Response:
    return httpx.Response(
        status, json={"data": {}, "error": {"code": code, "message": message, "log_id": log_id}}
    )


def business_ok(data: Any) -> httpx.Response:
    return httpx.Response(
        200, json={"code": 0, "message": "OK", "request_id": "REQ-OK", "data": data}
    )


def business_error(code: int, message: str = "", status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, json={"code": code, "message": message, "request_id": "REQ-1", "data": {}}
    )


def sent_json(request: httpx.Request) -> Any:
    return json.loads(request.content)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=30.0, rng=random.Random(7))


@pytest.fixture
def transport(clock: ManualClock, retry: RetryPolicy) -> Iterator[Transport]:
    with Transport(clock=clock, retry=retry, limiter=UnlimitedLimiter()) as transport:
        yield transport


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """A respx router intercepting every request; unmatched requests fail the test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router
