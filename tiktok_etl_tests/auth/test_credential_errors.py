"""Issue 10, item 5: a wrong app secret is a configuration error, not every account's fault.

``invalid_client`` (Display) and a Business refusal of the app's request fail naming the
variables to fix, and leave every account ``active``; only an invalid grant marks the
account ``reauth_required``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tiktok_etl.api import ReauthRequired
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.settings import ConfigError

from .helpers import Env, add_account, make_runtime

BODY = {
    "access_token": "act.cred.1234567890",
    "refresh_token": "rft.cred.1234567890",
    "open_id": "open-cred",
    "expires_in": 86400,
}


def _refresh_against(env: Env, api: str, answer: httpx.Response) -> tuple[Connector, Any]:
    runtime = make_runtime(env.variables())
    for key in ("first", "second"):
        add_account(
            runtime,
            key,
            {**BODY, "open_id": f"open-{key}"},
            api=api,
            issued_at=datetime.now(UTC) - timedelta(hours=25),
        )
    connector = Connector.open(runtime, http_transport=httpx.MockTransport(lambda _r: answer))
    return connector, runtime


DISPLAY_INVALID_CLIENT = httpx.Response(
    401,
    json={
        "error": "invalid_client",
        "error_description": "Client secret is wrong.",
        "log_id": "x1",
    },
)
BUSINESS_BAD_APP = httpx.Response(
    200,
    json={"code": 40001, "message": "app_id or secret is invalid", "request_id": "r1", "data": {}},
)


@pytest.mark.parametrize(
    ("api", "answer", "variable"),
    [
        ("display", DISPLAY_INVALID_CLIENT, "TIKTOK_CLIENT_SECRET"),
        ("business", BUSINESS_BAD_APP, "TIKTOK_BUSINESS_APP_SECRET"),
    ],
)
def test_bad_app_credentials_name_the_variable_and_keep_accounts_active(
    env: Env, api: str, answer: httpx.Response, variable: str
) -> None:
    connector, runtime = _refresh_against(env, api, answer)
    try:
        for key in ("first", "second"):
            with pytest.raises(ConfigError, match=variable):
                connector.token_provider(runtime.accounts.get(key)).force_refresh()
    finally:
        connector.close()
    assert {a.status for a in runtime.accounts.list()} == {"active"}


@pytest.mark.parametrize(
    ("api", "answer"),
    [
        (
            "display",
            httpx.Response(400, json={"error": "invalid_grant", "error_description": "expired"}),
        ),
        ("business", httpx.Response(200, json={"code": 40107, "message": "refresh token invalid"})),
    ],
)
def test_only_an_invalid_grant_needs_reauthorization(
    env: Env, api: str, answer: httpx.Response
) -> None:
    connector, runtime = _refresh_against(env, api, answer)
    try:
        with pytest.raises(ReauthRequired):
            connector.token_provider(runtime.accounts.get("first")).force_refresh()
    finally:
        connector.close()
    assert runtime.accounts.get("first").status == "reauth_required"
    assert runtime.accounts.get("second").status == "active"
