"""What clients need from a token provider: a static token, and one refresh after a rejection."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from tiktok_etl.api import (
    ManualClock,
    StaticTokenProvider,
    TokenExpired,
    TokenProvider,
    TokenResponse,
    call_with_refresh,
)
from tiktok_etl.auth.model import TokenSet

from .refreshing_provider import InMemoryTokenProvider

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def token_response(access: str, refresh: str, expires_in: int = 7200) -> TokenResponse:
    return {
        "access_token": access,
        "refresh_token": refresh,
        "open_id": "open-1",
        "expires_in": expires_in,
        "refresh_expires_in": 86400 * 180,
        "scope": "user.info.basic,video.list",
    }


def token_set(access: str, refresh: str) -> TokenSet:
    return TokenSet.from_response(token_response(access, refresh), NOW)


class CountingRefresher:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, refresh_token: str) -> TokenResponse:
        with self._lock:
            self.calls.append(refresh_token)
            n = len(self.calls)
        return token_response(f"act.{n}", f"rft.{n}")


def test_static_provider_cannot_refresh() -> None:
    provider = StaticTokenProvider("act.fixed")

    assert isinstance(provider, TokenProvider)
    assert provider.refresh("act.fixed") == "act.fixed"
    assert "act.fixed" not in repr(provider)


def rejected_unless(valid: str, seen: list[str]):  # type: ignore[no-untyped-def]
    def call(token: str) -> str:
        seen.append(token)
        if token != valid:
            raise TokenExpired("/v2/user/info/", "access_token_invalid", http_status=401)
        return "payload"

    return call


def test_call_with_refresh_retries_once_with_the_fresh_token() -> None:
    clock = ManualClock(start=NOW)
    provider = InMemoryTokenProvider(token_set("act.0", "rft.0"), CountingRefresher(), clock=clock)
    seen: list[str] = []

    assert call_with_refresh(provider, rejected_unless("act.1", seen)) == "payload"
    assert seen == ["act.0", "act.1"]


def test_call_with_refresh_gives_up_after_the_second_rejection() -> None:
    clock = ManualClock(start=NOW)
    provider = InMemoryTokenProvider(token_set("act.0", "rft.0"), CountingRefresher(), clock=clock)
    seen: list[str] = []

    with pytest.raises(TokenExpired):
        call_with_refresh(provider, rejected_unless("act.never", seen))
    assert seen == ["act.0", "act.1"]


def test_call_with_refresh_re_raises_when_the_provider_cannot_refresh() -> None:
    seen: list[str] = []

    with pytest.raises(TokenExpired):
        call_with_refresh(StaticTokenProvider("act.0"), rejected_unless("act.1", seen))
    assert seen == ["act.0"]
