"""The token model: parsing both families' token responses, secrecy, and the one
expired/due rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tiktok_etl.api import OAuthError
from tiktok_etl.auth.model import TokenSet, parse_scopes, validate_refresh_fraction

from ..api.conftest import load_fixture

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

    assert tokens.access_token == "act.example-access-token"
    assert tokens.refresh_token == "rft.example-refresh-token"
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

    for text in (repr(tokens), str(tokens), repr(replace(tokens, open_id="x"))):
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


def test_is_due_compares_remaining_lifetime_to_a_fraction() -> None:
    tokens = token_set("act.a", "rft.a", expires_in=1000)

    assert not tokens.is_due(0.2, NOW + timedelta(seconds=799))
    assert tokens.is_due(0.2, NOW + timedelta(seconds=801))


def test_is_due_uses_the_reported_lifetime() -> None:
    # 19 h into a 24 h lifetime: 5 h (21 %) left (was TokenSet.needs_refresh)
    tokens = token_set("act.a", "rft.a", now=NOW - timedelta(hours=19), expires_in=86400)

    assert tokens.is_due(0.25, NOW)
    assert not tokens.is_due(0.2, NOW)


def test_is_expired_applies_a_60_second_skew() -> None:
    tokens = token_set("act.a", "rft.a", expires_in=1000)

    assert not tokens.is_expired(NOW + timedelta(seconds=940))
    assert tokens.is_expired(NOW + timedelta(seconds=941))
    assert tokens.is_expired(NOW + timedelta(seconds=1000))


def test_short_lived_tokens_get_half_their_lifetime_as_skew() -> None:
    # a 60-second token must not count as expired (and be refreshed) on every request
    tokens = token_set("act.a", "rft.a", expires_in=60)

    assert tokens.expiry_skew() == timedelta(seconds=30)
    assert not tokens.is_expired(NOW + timedelta(seconds=29))
    assert tokens.is_expired(NOW + timedelta(seconds=31))


def test_unknown_expiry_is_never_expired_nor_due() -> None:
    tokens = TokenSet(access_token="act.a", issued_at=NOW)

    assert not tokens.is_expired(NOW + timedelta(days=400))
    assert not tokens.is_due(0.5, NOW + timedelta(days=400))
    assert tokens.refresh_due_at(0.5) is None


def test_a_token_counts_as_due_no_later_than_it_counts_as_expired() -> None:
    tokens = token_set("act.a", "rft.a", expires_in=1000)

    assert tokens.refresh_due_at(0.01) == tokens.expires_at - timedelta(seconds=60)
    assert tokens.refresh_due_at(0.25) == tokens.expires_at - timedelta(seconds=250)
    assert tokens.is_due(0.01, NOW + timedelta(seconds=941))


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_a_fraction_outside_0_to_1_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        token_set("act.a", "rft.a").refresh_due_at(fraction)
    with pytest.raises(ValueError, match="fraction"):
        validate_refresh_fraction(fraction)


def test_scopes_are_parsed_from_commas_spaces_or_sequences_once_each() -> None:
    assert parse_scopes("user.info.basic,video.list") == ("user.info.basic", "video.list")
    assert parse_scopes("a b,,c a") == ("a", "b", "c")
    assert parse_scopes(["a", " b ", ""]) == ("a", "b")
    assert parse_scopes(None) == ()


def test_a_token_set_refuses_naive_expiry_times() -> None:
    tokens = token_set("act.a", "rft.a")

    with pytest.raises(ValueError):
        replace(tokens, expires_at=datetime(2026, 3, 1))
