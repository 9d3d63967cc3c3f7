"""OAuth flows for both families: URLs, callbacks, exchange, refresh, revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from tiktok_etl.api import (
    BusinessOAuth,
    DisplayOAuth,
    OAuthError,
    PkcePair,
    RateLimited,
    ReauthRequired,
    Transport,
    TransportError,
    parse_callback,
)
from tiktok_etl.api.oauth import AppCredentialsRejected
from tiktok_etl.auth.model import TokenSet

from .conftest import (
    AUTHORIZE,
    BUSINESS,
    DISPLAY,
    business_error,
    business_ok,
    load_fixture,
    sent_json,
)

TOKEN = DISPLAY + "/v2/oauth/token/"
REVOKE = DISPLAY + "/v2/oauth/revoke/"
BIZ_TOKEN = f"{BUSINESS}/tt_user/oauth2/token/"
BIZ_REFRESH = f"{BUSINESS}/tt_user/oauth2/refresh_token/"
BIZ_REVOKE = f"{BUSINESS}/tt_user/oauth2/revoke/"

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REDIRECT = "https://etl.example.com/callback"


@pytest.fixture
def display_oauth(transport: Transport) -> DisplayOAuth:
    return DisplayOAuth(
        transport,
        "client-key-1",
        "CLIENT-SECRET-1",
        api_base_url=DISPLAY,
        authorize_url=AUTHORIZE,
    )


@pytest.fixture
def business_oauth(transport: Transport) -> BusinessOAuth:
    return BusinessOAuth(
        transport, "app-1", "APP-SECRET-1", api_base_url=BUSINESS, authorize_url=AUTHORIZE
    )


def form(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


def test_authorize_url_carries_client_scopes_state_and_pkce(display_oauth: DisplayOAuth) -> None:
    pkce = PkcePair.from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")

    url = display_oauth.authorize_url(REDIRECT, ["user.info.basic", "video.list"], "state-1", pkce)

    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == "https://www.tiktok.com/v2/auth/authorize/"
    )
    assert "scope=user.info.basic,video.list" in parts.query
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "client_key": "client-key-1",
        "scope": "user.info.basic,video.list",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "state-1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }


def test_authorize_url_without_pkce_has_no_challenge(business_oauth: BusinessOAuth) -> None:
    query = parse_qs(
        urlsplit(business_oauth.authorize_url(REDIRECT, ["user.info.basic"], "s")).query
    )

    assert query["client_key"] == ["app-1"]
    assert "code_challenge" not in query


def test_parse_callback_returns_the_code_when_state_matches() -> None:
    query = {"code": "AUTH-CODE", "scopes": "user.info.basic", "state": "s1"}

    assert parse_callback(query, expected_state="s1") == "AUTH-CODE"


def test_parse_callback_refuses_a_state_mismatch() -> None:
    with pytest.raises(OAuthError) as caught:
        parse_callback({"code": "AUTH-CODE", "state": "forged"}, expected_state="s1")

    assert caught.value.error == "state_mismatch"
    assert "AUTH-CODE" not in str(caught.value)


def test_parse_callback_reports_a_declined_consent() -> None:
    query = {"error": "access_denied", "error_description": "The user denied.", "state": "s1"}

    with pytest.raises(OAuthError) as caught:
        DisplayOAuth.parse_callback(query, expected_state="s1")

    assert (caught.value.error, caught.value.description) == ("access_denied", "The user denied.")


def test_parse_callback_without_a_code_raises() -> None:
    with pytest.raises(OAuthError) as caught:
        parse_callback({"state": "s1"}, expected_state="s1")
    assert caught.value.error == "missing_code"


def test_exchange_code_posts_the_form_and_returns_tokens(
    api: respx.MockRouter, display_oauth: DisplayOAuth
) -> None:
    route = api.post(TOKEN).mock(
        return_value=httpx.Response(200, json=load_fixture("display_token.json"))
    )

    response = display_oauth.exchange_code("AUTH-CODE", REDIRECT, code_verifier="VERIFIER")
    tokens = TokenSet.from_response(response, NOW)

    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(request) == {
        "client_key": "client-key-1",
        "client_secret": "CLIENT-SECRET-1",
        "code": "AUTH-CODE",
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code_verifier": "VERIFIER",
    }
    assert tokens.open_id == "afd97af1-b87b-48b9-ac98-410aghda5344"
    assert tokens.expires_at == NOW + timedelta(seconds=86400)


def test_exchange_code_returns_the_token_response_as_sent(
    api: respx.MockRouter, display_oauth: DisplayOAuth
) -> None:
    api.post(TOKEN).mock(return_value=httpx.Response(200, json=load_fixture("display_token.json")))

    assert display_oauth.exchange_code("AUTH-CODE", REDIRECT) == load_fixture("display_token.json")


def test_a_failed_exchange_raises_oauth_error(
    api: respx.MockRouter, display_oauth: DisplayOAuth
) -> None:
    api.post(TOKEN).mock(
        return_value=httpx.Response(400, json=load_fixture("display_token_error.json"))
    )

    with pytest.raises(OAuthError) as caught:
        display_oauth.exchange_code("AUTH-CODE", REDIRECT)

    assert caught.value.error == "invalid_grant"
    assert caught.value.log_id == "202206221854370101130062072500FFA2"
    assert not isinstance(caught.value, ReauthRequired)


def test_exchange_is_not_retried_after_a_timeout(
    api: respx.MockRouter, display_oauth: DisplayOAuth
) -> None:
    route = api.post(TOKEN).mock(side_effect=httpx.ReadTimeout("timed out"))

    with pytest.raises(TransportError):
        display_oauth.exchange_code("AUTH-CODE", REDIRECT)
    assert route.call_count == 1


def test_exchange_is_retried_when_throttled(
    api: respx.MockRouter, display_oauth: DisplayOAuth
) -> None:
    route = api.post(TOKEN).mock(
        side_effect=[
            httpx.Response(429, json={"error": "rate_limit_exceeded"}),
            httpx.Response(200, json=load_fixture("display_token.json")),
        ]
    )

    assert display_oauth.exchange_code("AUTH-CODE", REDIRECT)["expires_in"] == 86400
    assert route.call_count == 2


def test_exchange_is_retried_when_temporarily_unavailable(
    api: respx.MockRouter, display_oauth: DisplayOAuth
) -> None:
    api.post(TOKEN).mock(
        side_effect=[
            httpx.Response(
                503, json={"error": "temporarily_unavailable", "error_description": "x"}
            ),
            httpx.Response(200, json=load_fixture("display_token.json")),
        ]
    )

    assert display_oauth.exchange_code("AUTH-CODE", REDIRECT)["open_id"]


def test_refresh_posts_the_refresh_grant(
    api: respx.MockRouter, display_oauth: DisplayOAuth
) -> None:
    route = api.post(TOKEN).mock(
        return_value=httpx.Response(200, json=load_fixture("display_token.json"))
    )

    tokens = TokenSet.from_response(display_oauth.refresh("rft.OLD"), NOW)

    assert form(route.calls.last.request) == {
        "client_key": "client-key-1",
        "client_secret": "CLIENT-SECRET-1",
        "grant_type": "refresh_token",
        "refresh_token": "rft.OLD",
    }
    assert tokens.refresh_token == "rft.example-refresh-token"


def test_invalid_grant_on_refresh_requires_reauthorization(
    api: respx.MockRouter, display_oauth: DisplayOAuth
) -> None:
    api.post(TOKEN).mock(
        return_value=httpx.Response(400, json=load_fixture("display_token_error.json"))
    )

    with pytest.raises(ReauthRequired) as caught:
        display_oauth.refresh("rft.OLD")
    assert caught.value.error == "invalid_grant"


def test_other_refresh_errors_are_plain_oauth_errors(
    api: respx.MockRouter, display_oauth: DisplayOAuth
) -> None:
    api.post(TOKEN).mock(
        return_value=httpx.Response(
            401, json={"error": "invalid_client", "error_description": "bad"}
        )
    )

    with pytest.raises(OAuthError) as caught:
        display_oauth.refresh("rft.OLD")
    # a wrong app credential is the configuration's fault, never the account's
    assert not isinstance(caught.value, ReauthRequired)
    assert caught.value.error == "invalid_client"


def test_revoke_posts_the_token(api: respx.MockRouter, display_oauth: DisplayOAuth) -> None:
    route = api.post(REVOKE).mock(return_value=httpx.Response(200, json={}))

    display_oauth.revoke("act.GONE")

    assert form(route.calls.last.request) == {
        "client_key": "client-key-1",
        "client_secret": "CLIENT-SECRET-1",
        "token": "act.GONE",
    }


def test_business_exchange_posts_json_and_returns_tokens(
    api: respx.MockRouter, business_oauth: BusinessOAuth
) -> None:
    route = api.post(BIZ_TOKEN).mock(
        return_value=httpx.Response(200, json=load_fixture("business_token.json"))
    )

    tokens = TokenSet.from_response(business_oauth.exchange_code("AUTH-CODE", REDIRECT), NOW)

    assert sent_json(route.calls.last.request) == {
        "client_id": "app-1",
        "client_secret": "APP-SECRET-1",
        "grant_type": "authorization_code",
        "auth_code": "AUTH-CODE",
        "redirect_uri": REDIRECT,
    }
    assert tokens.open_id == "-000Ssgm4E8bHd6i6dTWP2YQgmgLxfIgtu4f"
    assert tokens.refresh_expires_at == NOW + timedelta(seconds=31536000)


def test_business_exchange_error_is_an_oauth_error(
    api: respx.MockRouter, business_oauth: BusinessOAuth
) -> None:
    api.post(BIZ_TOKEN).mock(return_value=business_error(40001, "auth_code is invalid"))

    with pytest.raises(OAuthError) as caught:
        business_oauth.exchange_code("AUTH-CODE", REDIRECT)
    assert (caught.value.error, caught.value.log_id) == ("40001", "REQ-1")


def test_business_refresh_posts_json(api: respx.MockRouter, business_oauth: BusinessOAuth) -> None:
    route = api.post(BIZ_REFRESH).mock(
        return_value=httpx.Response(200, json=load_fixture("business_token.json"))
    )

    business_oauth.refresh("rft.OLD")

    assert sent_json(route.calls.last.request) == {
        "client_id": "app-1",
        "client_secret": "APP-SECRET-1",
        "grant_type": "refresh_token",
        "refresh_token": "rft.OLD",
    }


def test_business_invalid_grant_requires_reauthorization(
    api: respx.MockRouter, business_oauth: BusinessOAuth
) -> None:
    api.post(BIZ_REFRESH).mock(return_value=business_error(40107, "refresh token expired"))

    with pytest.raises(ReauthRequired) as caught:
        business_oauth.refresh("rft.OLD")
    assert caught.value.error == "40107"


@pytest.mark.parametrize("code", [40001, 40002, 40105, 40099])
def test_other_business_refresh_refusals_are_the_apps_not_the_accounts(
    api: respx.MockRouter, business_oauth: BusinessOAuth, code: int
) -> None:
    api.post(BIZ_REFRESH).mock(return_value=business_error(code, "app secret invalid"))

    with pytest.raises(AppCredentialsRejected) as caught:
        business_oauth.refresh("rft.OLD")
    assert not isinstance(caught.value, ReauthRequired)
    assert caught.value.error == str(code)


def test_business_refresh_throttle_is_retried_not_reauth(
    api: respx.MockRouter, business_oauth: BusinessOAuth
) -> None:
    api.post(BIZ_REFRESH).mock(
        side_effect=[
            business_error(40100),
            httpx.Response(200, json=load_fixture("business_token.json")),
        ]
    )

    assert business_oauth.refresh("rft.OLD")["open_id"]


def test_business_refresh_throttled_throughout_raises_rate_limited(
    api: respx.MockRouter, business_oauth: BusinessOAuth
) -> None:
    api.post(BIZ_REFRESH).mock(return_value=business_error(40100))

    with pytest.raises(RateLimited):
        business_oauth.refresh("rft.OLD")


def test_business_revoke_posts_json(api: respx.MockRouter, business_oauth: BusinessOAuth) -> None:
    route = api.post(BIZ_REVOKE).mock(return_value=business_ok({}))

    business_oauth.revoke("act.GONE")

    assert sent_json(route.calls.last.request) == {
        "client_id": "app-1",
        "client_secret": "APP-SECRET-1",
        "access_token": "act.GONE",
    }


def test_oauth_clients_keep_secrets_out_of_their_repr(
    display_oauth: DisplayOAuth, business_oauth: BusinessOAuth
) -> None:
    assert "CLIENT-SECRET-1" not in repr(display_oauth)
    assert "APP-SECRET-1" not in repr(business_oauth)
