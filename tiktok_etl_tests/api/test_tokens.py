"""TokenSet parsing and expiry, and providers that refresh exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from tiktok_etl.api import (
    ManualClock,
    OAuthError,
    RefreshingTokenProvider,
    StaticTokenProvider,
    TokenExpired,
    TokenProvider,
    TokenSet,
    call_with_refresh,
)

from .conftest import load_fixture

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def token_set(access: str, refresh: str, now: datetime = NOW, expires_in: int = 7200) -> TokenSet:
    return TokenSet.from_response(
        {
            "access_token": access,
            "refresh_token": refresh,
            "open_id": "open-1",
            "expires_in": expires_in,
            "refresh_expires_in": 86400 * 180,
            "scope": "user.info.basic,video.list",
        },
        now,
    )


def test_display_token_response_gets_absolute_expiry_times() -> None:
    tokens = TokenSet.from_response(load_fixture("display_token.json"), NOW)

    assert tokens.access_token.get_secret_value() == "act.example-access-token"
    assert tokens.refresh_token.get_secret_value() == "rft.example-refresh-token"
    assert tokens.open_id == "afd97af1-b87b-48b9-ac98-410aghda5344"
    assert tokens.scopes == ("user.info.basic", "video.list")
    assert tokens.issued_at == NOW
    assert tokens.expires_at == NOW + timedelta(seconds=86400)
    assert tokens.refresh_expires_at == NOW + timedelta(seconds=31536000)
    assert (tokens.expires_in, tokens.refresh_expires_in) == (86400, 31536000)


def test_business_token_data_uses_refresh_token_expires_in() -> None:
    data = load_fixture("business_token.json")["data"]

    tokens = TokenSet.from_response(data, NOW)

    assert tokens.open_id == "-000Ssgm4E8bHd6i6dTWP2YQgmgLxfIgtu4f"
    assert tokens.refresh_expires_in == 31536000
    assert tokens.refresh_expires_at == NOW + timedelta(seconds=31536000)
    assert "comment.list" in tokens.scopes
    assert len(tokens.scopes) == 10


def test_a_whole_business_envelope_is_unwrapped() -> None:
    tokens = TokenSet.from_response(load_fixture("business_token.json"), NOW)

    assert tokens.expires_in == 86400


def test_token_values_never_show_in_repr_str_or_json() -> None:
    tokens = TokenSet.from_response(load_fixture("display_token.json"), NOW)

    for text in (repr(tokens), str(tokens), tokens.model_dump_json()):
        assert "act.example-access-token" not in text
        assert "rft.example-refresh-token" not in text


def test_an_incomplete_response_raises_without_echoing_tokens() -> None:
    payload = {"access_token": "act.LEAKY", "refresh_token": "rft.LEAKY", "expires_in": 60}

    with pytest.raises(OAuthError) as caught:
        TokenSet.from_response(payload, NOW)

    assert "open_id" in str(caught.value)
    assert "LEAKY" not in str(caught.value)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenSet.from_response(load_fixture("display_token.json"), datetime(2026, 3, 1))


def test_access_expires_within_compares_remaining_lifetime_to_a_fraction() -> None:
    tokens = token_set("act.a", "rft.a", expires_in=1000)

    assert not tokens.access_expires_within(0.2, NOW + timedelta(seconds=799))
    assert tokens.access_expires_within(0.2, NOW + timedelta(seconds=801))


def test_is_access_expired_applies_the_skew() -> None:
    tokens = token_set("act.a", "rft.a", expires_in=1000)

    assert not tokens.is_access_expired(NOW + timedelta(seconds=969))
    assert tokens.is_access_expired(NOW + timedelta(seconds=970))
    assert tokens.is_access_expired(NOW + timedelta(seconds=1000), skew_seconds=0)


class CountingRefresher:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, refresh_token: str) -> TokenSet:
        with self._lock:
            self.calls.append(refresh_token)
            n = len(self.calls)
        return token_set(f"act.{n}", f"rft.{n}", now=self.clock.now())


def test_refreshing_provider_refreshes_a_token_the_clock_says_is_expired() -> None:
    clock = ManualClock(start=NOW)
    refresher = CountingRefresher(clock)
    provider = RefreshingTokenProvider(token_set("act.0", "rft.0"), refresher, clock=clock)

    assert provider.access_token() == "act.0"
    clock.advance(7200)

    assert provider.access_token() == "act.1"
    assert refresher.calls == ["rft.0"]


def test_refresh_rotates_and_reports_the_new_pair_first() -> None:
    clock = ManualClock(start=NOW)
    rotated: list[TokenSet] = []
    provider = RefreshingTokenProvider(
        token_set("act.0", "rft.0"), CountingRefresher(clock), on_rotate=rotated.append, clock=clock
    )

    fresh = provider.refresh("act.0")

    assert fresh == "act.1"
    assert [t.refresh_token.get_secret_value() for t in rotated] == ["rft.1"]
    assert provider.tokens.refresh_token.get_secret_value() == "rft.1"


def test_refresh_of_an_already_replaced_token_does_not_refresh_again() -> None:
    clock = ManualClock(start=NOW)
    refresher = CountingRefresher(clock)
    provider = RefreshingTokenProvider(token_set("act.0", "rft.0"), refresher, clock=clock)
    provider.refresh("act.0")

    assert provider.refresh("act.0") == "act.1"
    assert refresher.calls == ["rft.0"]


def test_concurrent_rejections_of_one_token_cause_one_refresh() -> None:
    clock = ManualClock(start=NOW)
    refresher = CountingRefresher(clock)
    provider = RefreshingTokenProvider(token_set("act.0", "rft.0"), refresher, clock=clock)
    barrier = threading.Barrier(10)
    results: list[str] = []

    def rejected() -> None:
        barrier.wait(timeout=5)
        results.append(provider.refresh("act.0"))

    threads = [threading.Thread(target=rejected) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    assert refresher.calls == ["rft.0"]
    assert results == ["act.1"] * 10


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
    provider = RefreshingTokenProvider(
        token_set("act.0", "rft.0"), CountingRefresher(clock), clock=clock
    )
    seen: list[str] = []

    assert call_with_refresh(provider, rejected_unless("act.1", seen)) == "payload"
    assert seen == ["act.0", "act.1"]


def test_call_with_refresh_gives_up_after_the_second_rejection() -> None:
    clock = ManualClock(start=NOW)
    provider = RefreshingTokenProvider(
        token_set("act.0", "rft.0"), CountingRefresher(clock), clock=clock
    )
    seen: list[str] = []

    with pytest.raises(TokenExpired):
        call_with_refresh(provider, rejected_unless("act.never", seen))
    assert seen == ["act.0", "act.1"]


def test_call_with_refresh_re_raises_when_the_provider_cannot_refresh() -> None:
    seen: list[str] = []

    with pytest.raises(TokenExpired):
        call_with_refresh(StaticTokenProvider("act.0"), rejected_unless("act.1", seen))
    assert seen == ["act.0"]


def test_a_token_set_refuses_naive_expiry_times() -> None:
    tokens = token_set("act.a", "rft.a")

    with pytest.raises(ValueError):
        TokenSet(**{**tokens.model_dump(), "expires_at": datetime(2026, 3, 1)})
