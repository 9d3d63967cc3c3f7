"""Typed errors: readable messages, the attributes callers act on, no secrets."""

from __future__ import annotations

import pickle

from tiktok_etl.api import (
    ApiError,
    OAuthError,
    RateLimited,
    ReauthRequired,
    TikTokError,
    TokenExpired,
    TransportError,
)


def test_api_error_message_names_endpoint_code_status_and_log_id() -> None:
    error = TokenExpired(
        "/v2/video/list/",
        "access_token_invalid",
        "The access token is invalid.",
        method="POST",
        log_id="LOG42",
        http_status=401,
    )

    assert str(error) == (
        "POST /v2/video/list/ failed: access_token_invalid (HTTP 401): "
        "The access token is invalid. [log_id=LOG42]"
    )
    assert (error.endpoint, error.code, error.log_id, error.http_status) == (
        "/v2/video/list/",
        "access_token_invalid",
        "LOG42",
        401,
    )
    assert isinstance(error, ApiError)
    assert isinstance(error, TikTokError)


def test_api_error_code_is_always_a_string() -> None:
    assert ApiError("business/get/", 40105).code == "40105"  # type: ignore[arg-type]


def test_rate_limited_carries_the_requested_wait() -> None:
    error = RateLimited("business/video/list/", "40100", retry_after=12.5)

    assert error.retry_after == 12.5


def test_api_error_message_from_a_body_is_redacted() -> None:
    error = ApiError("/v2/user/info/", "invalid_params", "bad token act.LEAKED-VALUE in request")

    assert "act.LEAKED-VALUE" not in str(error)
    assert "act.LEAKED-VALUE" not in repr(error)


def test_oauth_errors_redact_their_description() -> None:
    error = ReauthRequired("invalid_grant", "refresh_token=rft.LEAKED is expired", log_id="L1")

    assert isinstance(error, OAuthError)
    assert "rft.LEAKED" not in str(error)
    assert str(error).startswith("OAuth error invalid_grant")


def test_errors_survive_pickling_with_their_attributes() -> None:
    original = RateLimited("/v2/video/list/", "rate_limit_exceeded", "slow down", retry_after=3.0)

    restored = pickle.loads(pickle.dumps(original))

    assert type(restored) is RateLimited
    assert str(restored) == str(original)
    assert restored.retry_after == 3.0
    assert pickle.loads(pickle.dumps(TransportError("x/", "ReadTimeout"))).endpoint == "x/"
