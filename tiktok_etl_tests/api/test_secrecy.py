"""No token, secret, code or verifier reaches an error message, a repr or a log record."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
import respx

from tiktok_etl.api import (
    BusinessClient,
    DisplayClient,
    DisplayOAuth,
    ManualClock,
    TikTokError,
    Transport,
)
from tiktok_etl.auth.model import TokenSet

from .conftest import AUTHORIZE, BUSINESS, DISPLAY, business_error, display_error
from .refreshing_provider import InMemoryTokenProvider

ACCESS = "act.SECRET-ACCESS-1"
REFRESH = "rft.SECRET-REFRESH-1"
CLIENT_SECRET = "SECRET-CLIENT-VALUE"
CODE = "SECRET-AUTH-CODE"
VERIFIER = "SECRET-VERIFIER-VALUE-0123456789-0123456789-abcdef"
SECRETS = ("SECRET-ACCESS", "SECRET-REFRESH", CLIENT_SECRET, CODE, VERIFIER)


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.fixture
def oauth(transport: Transport) -> DisplayOAuth:
    return DisplayOAuth(
        transport, "client-key", CLIENT_SECRET, api_base_url=DISPLAY, authorize_url=AUTHORIZE
    )


def failing_flows(
    api: respx.MockRouter, transport: Transport, oauth: DisplayOAuth, clock: ManualClock
) -> list[Callable[[], object]]:
    api.post(DISPLAY + "/v2/oauth/token/").mock(
        return_value=httpx.Response(
            400,
            json={
                "error": "invalid_grant",
                "error_description": f"refresh_token={REFRESH} code={CODE} is invalid",
                "log_id": "L1",
            },
        )
    )
    api.get(DISPLAY + "/v2/user/info/").mock(
        return_value=display_error(401, "access_token_invalid", f"token {ACCESS} is invalid")
    )
    api.post(DISPLAY + "/v2/video/list/").mock(
        side_effect=httpx.ConnectError(f"cannot reach host?access_token={ACCESS}")
    )
    api.get(f"{BUSINESS}/business/get/").mock(
        return_value=business_error(40105, f"Access-Token: {ACCESS} expired")
    )
    api.get(f"{BUSINESS}/business/video/list/").mock(
        return_value=httpx.Response(500, text=f"<html>{ACCESS} {REFRESH}</html>")
    )

    tokens = TokenSet.from_response(
        {"access_token": ACCESS, "refresh_token": REFRESH, "open_id": "o1", "expires_in": 3600},
        clock.now(),
    )
    provider = InMemoryTokenProvider(tokens, oauth.refresh, clock=clock)
    display = DisplayClient(transport, provider, base_url=DISPLAY)
    business = BusinessClient(transport, provider, "o1", base_url=BUSINESS)
    return [
        lambda: oauth.exchange_code(CODE, "https://x/cb", code_verifier=VERIFIER),
        lambda: oauth.refresh(REFRESH),
        display.user_info,
        display.list_videos,
        business.get_profile,
        business.list_videos,
    ]


def test_failing_requests_leak_no_secret_into_errors_or_logs(
    api: respx.MockRouter,
    transport: Transport,
    oauth: DisplayOAuth,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    raised: list[TikTokError] = []

    for flow in failing_flows(api, transport, oauth, clock):
        with pytest.raises(TikTokError) as caught:
            flow()
        raised.append(caught.value)

    assert len(raised) == 6
    for error in raised:
        assert_no_secrets(str(error))
        assert_no_secrets(repr(error))
        assert_no_secrets(repr(vars(error)))
    assert caplog.records, "the transport should have logged its attempts"
    for record in caplog.records:
        assert_no_secrets(record.getMessage())
    assert_no_secrets(caplog.text)


def test_the_user_info_failure_is_a_reauth_after_a_refused_refresh(
    api: respx.MockRouter, transport: Transport, oauth: DisplayOAuth, clock: ManualClock
) -> None:
    flows = failing_flows(api, transport, oauth, clock)

    with pytest.raises(TikTokError) as caught:
        flows[2]()

    assert type(caught.value).__name__ == "ReauthRequired"
