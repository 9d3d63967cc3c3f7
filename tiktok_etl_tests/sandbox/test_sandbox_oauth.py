"""OAuth in the sandbox: consent redirect, PKCE, rotation, expiry and revocation."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tiktok_etl.sandbox import SandboxApp, SandboxClock, build_sandbox, issue_tokens

from .helpers import BUSINESS, access, bearer, fixture

REDIRECT = "http://localhost:8765/callback"
VERIFIER = "a-verifier-that-is-long-enough-to-be-valid-0123456789-abcdefgh"
CLIENT = {"client_key": "ck", "client_secret": "cs"}
BUSINESS_CLIENT = {"client_id": "app", "client_secret": "secret"}


def authorize(client: httpx.Client, **params: str) -> dict[str, list[str]]:
    query = {
        "client_key": "ck",
        "response_type": "code",
        "scope": "user.info.basic,video.list",
        "redirect_uri": REDIRECT,
        "state": "csrf-123",
        **params,
    }
    response = client.get("/v2/auth/authorize/", params=query)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def token_request(client: httpx.Client, **form: str) -> httpx.Response:
    return client.post("/v2/oauth/token/", data={**CLIENT, **form})


def exchange(client: httpx.Client, code: str, **form: str) -> httpx.Response:
    return token_request(
        client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, **form
    )


def refresh(client: httpx.Client, refresh_token: str) -> httpx.Response:
    return token_request(client, grant_type="refresh_token", refresh_token=refresh_token)


def business_refresh(client: httpx.Client, refresh_token: str) -> dict[str, Any]:
    body = {**BUSINESS_CLIENT, "grant_type": "refresh_token", "refresh_token": refresh_token}
    return client.post(BUSINESS + "tt_user/oauth2/refresh_token/", json=body).json()


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_issue_tokens_matches_documented_token_bodies(app: SandboxApp) -> None:
    assert app.issue_tokens("acct-1").keys() == fixture("display_token.json").keys()
    business = app.issue_tokens("biz-1", "business")
    assert business.keys() == fixture("business_token.json")["data"].keys()
    assert business["access_token"].startswith("act.")
    assert business["refresh_token"].startswith("rft.")


def test_tokens_verify_in_any_sandbox_with_the_same_seed(clock: SandboxClock) -> None:
    token = issue_tokens("acct-1", seed=7, clock=clock)
    for seed, status in ((7, 200), (8, 401)):
        app = build_sandbox(seed=seed, clock=clock, history_days=5)
        with httpx.Client(transport=app.as_transport(), base_url="https://sandbox.test") as client:
            response = client.get(
                "/v2/user/info/", params={"fields": "open_id"}, headers=bearer(token)
            )
        assert response.status_code == status


def test_authorize_redirects_with_code_scopes_and_state(client: httpx.Client) -> None:
    callback = authorize(client)
    assert callback["state"] == ["csrf-123"]
    assert callback["scopes"] == ["user.info.basic,video.list"]
    response = exchange(client, callback["code"][0])
    assert response.status_code == 200
    body = response.json()
    assert body.keys() == fixture("display_token.json").keys()
    assert body["scope"] == "user.info.basic,video.list"
    assert body["token_type"] == "Bearer"


def test_authorize_can_pick_the_sandbox_account(client: httpx.Client) -> None:
    code = authorize(client, sandbox_open_id="acct-9")["code"][0]
    assert exchange(client, code).json()["open_id"] == "acct-9"


def test_denied_consent_redirects_with_access_denied(
    make_app: Callable[..., SandboxApp], client: httpx.Client
) -> None:
    assert authorize(client, sandbox_consent="deny")["error"] == ["access_denied"]
    denying = make_app(deny_consent=True)
    with httpx.Client(transport=denying.as_transport(), base_url="https://sandbox.test") as http:
        callback = authorize(http)
    assert callback["error"] == ["access_denied"]
    assert callback["error_description"] and callback["state"] == ["csrf-123"]
    assert "code" not in callback


@pytest.mark.parametrize(
    "challenge", [s256(VERIFIER), hashlib.sha256(VERIFIER.encode()).hexdigest()]
)
def test_pkce_accepts_s256_and_hex_challenges(client: httpx.Client, challenge: str) -> None:
    code = authorize(client, code_challenge=challenge, code_challenge_method="S256")["code"][0]
    assert exchange(client, code, code_verifier=VERIFIER).status_code == 200


def test_pkce_rejects_a_wrong_or_missing_verifier(client: httpx.Client) -> None:
    code = authorize(client, code_challenge=s256(VERIFIER), code_challenge_method="S256")["code"][0]
    wrong = exchange(client, code, code_verifier=VERIFIER + "x")
    assert wrong.status_code == 400
    assert wrong.json().keys() == fixture("display_token_error.json").keys()
    assert wrong.json()["error"] == "invalid_grant"
    assert exchange(client, code).json()["error"] == "invalid_request"


def test_code_works_once_and_only_with_its_redirect_uri(client: httpx.Client) -> None:
    code = authorize(client)["code"][0]
    mismatched = token_request(
        client, grant_type="authorization_code", code=code, redirect_uri="http://localhost/other"
    )
    assert mismatched.json()["error"] == "invalid_grant"
    assert exchange(client, code).status_code == 200
    assert exchange(client, code).json()["error"] == "invalid_grant"


def test_unsupported_grant_type_and_missing_client(client: httpx.Client) -> None:
    assert token_request(client, grant_type="password").json()["error"] == "unsupported_grant_type"
    response = client.post("/v2/oauth/token/", data={"grant_type": "refresh_token"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_refresh_rotates_and_rejects_the_old_refresh_token(
    app: SandboxApp, client: httpx.Client
) -> None:
    first = app.issue_tokens("acct-1")
    second = refresh(client, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["open_id"] == "acct-1"

    reused = refresh(client, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert app.stats.snapshot()["refresh_token_reuse"] == 1

    third = refresh(client, second["refresh_token"])
    assert third.status_code == 200
    response = client.get(
        "/v2/user/info/", params={"fields": "open_id"}, headers=bearer(third.json())
    )
    assert response.status_code == 200


def test_business_refresh_rotates_too(app: SandboxApp, client: httpx.Client) -> None:
    first = app.issue_tokens("biz-1", "business")
    second = business_refresh(client, first["refresh_token"])
    assert second["code"] == 0
    assert second["data"].keys() == fixture("business_token.json")["data"].keys()
    reused = business_refresh(client, first["refresh_token"])
    assert reused["code"] == 40107 and "invalid_grant" in reused["message"]
    assert app.stats.snapshot()["refresh_token_reuse"] == 1


def test_business_code_exchange(client: httpx.Client) -> None:
    code = authorize(client, scope="user.info.basic,comment.list")["code"][0]
    body = {
        **BUSINESS_CLIENT,
        "grant_type": "authorization_code",
        "auth_code": code,
        "redirect_uri": REDIRECT,
    }
    response = client.post(BUSINESS + "tt_user/oauth2/token/", json=body).json()
    assert response["code"] == 0
    assert response["data"]["scope"] == "user.info.basic,comment.list"


def test_expired_access_tokens_are_refused_by_both_families(
    make_app: Callable[..., SandboxApp], clock: SandboxClock
) -> None:
    app = make_app(access_token_ttl=60)
    display, business = app.issue_tokens("acct-1"), app.issue_tokens("biz-1", "business")
    clock.advance(61)
    with httpx.Client(transport=app.as_transport(), base_url="https://sandbox.test") as client:
        expired = client.get(
            "/v2/user/info/", params={"fields": "open_id"}, headers=bearer(display)
        )
        throttled = client.get(
            BUSINESS + "business/get/", params={"business_id": "biz-1"}, headers=access(business)
        )
        renewed = refresh(client, display["refresh_token"]).json()
        fresh = client.get("/v2/user/info/", params={"fields": "open_id"}, headers=bearer(renewed))
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "access_token_invalid"
    assert throttled.status_code == 200 and throttled.json()["code"] == 40105
    assert fresh.status_code == 200
    assert app.stats.snapshot()["requests_with_expired_token"] == 2


def test_expired_refresh_token_is_invalid_grant(
    make_app: Callable[..., SandboxApp], clock: SandboxClock
) -> None:
    app = make_app(refresh_token_ttl=3600)
    token = app.issue_tokens("acct-1")
    clock.advance(3601)
    with httpx.Client(transport=app.as_transport(), base_url="https://sandbox.test") as client:
        assert refresh(client, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoke_kills_access_and_refresh(app: SandboxApp, client: httpx.Client) -> None:
    token = app.issue_tokens("acct-1")
    response = client.post("/v2/oauth/revoke/", data={**CLIENT, "token": token["access_token"]})
    assert response.status_code == 200 and response.json() == {}
    user = client.get("/v2/user/info/", params={"fields": "open_id"}, headers=bearer(token))
    assert user.status_code == 401
    assert refresh(client, token["refresh_token"]).json()["error"] == "invalid_grant"
    assert app.stats.snapshot()["refresh_token_reuse"] == 0
    again = app.issue_tokens("acct-1")
    assert refresh(client, again["refresh_token"]).status_code == 200


def test_business_revoke(app: SandboxApp, client: httpx.Client) -> None:
    token = app.issue_tokens("biz-1", "business")
    body = {**BUSINESS_CLIENT, "access_token": token["access_token"]}
    assert client.post(BUSINESS + "tt_user/oauth2/revoke/", json=body).json()["code"] == 0
    response = client.get(
        BUSINESS + "business/get/", params={"business_id": "biz-1"}, headers=access(token)
    )
    assert response.json()["code"] == 40105


def test_admin_revoke_refresh_keeps_access_tokens(app: SandboxApp, client: httpx.Client) -> None:
    token = app.issue_tokens("acct-1")
    response = client.post(
        "/sandbox/revoke-refresh", json={"open_id": "acct-1", "family": "display"}
    )
    assert response.status_code == 200
    assert refresh(client, token["refresh_token"]).json()["error"] == "invalid_grant"
    user = client.get("/v2/user/info/", params={"fields": "open_id"}, headers=bearer(token))
    assert user.status_code == 200


def test_admin_tokens_route_issues_usable_tokens(client: httpx.Client) -> None:
    issued = client.post(
        "/sandbox/tokens", json={"open_id": "biz-7", "family": "business", "scopes": ["video.list"]}
    ).json()
    assert issued["open_id"] == "biz-7" and issued["scope"] == "video.list"
    response = client.get(
        BUSINESS + "business/get/", params={"business_id": "biz-7"}, headers=access(issued)
    )
    assert response.json()["code"] == 0


def test_a_later_issue_from_another_process_is_not_reuse(
    app: SandboxApp, client: httpx.Client, clock: SandboxClock
) -> None:
    first = app.issue_tokens("acct-1")
    assert refresh(client, first["refresh_token"]).status_code == 200
    clock.advance(1)
    elsewhere = issue_tokens("acct-1", clock=clock)
    assert refresh(client, elsewhere["refresh_token"]).status_code == 200
