"""StoredTokenProvider: refresh when due, forced refresh, reauth marking, and the request path
(a rejected access token is refreshed once through the lock and the call retried)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tiktok_etl.api import ReauthRequired
from tiktok_etl.runtime import Runtime
from tiktok_etl.runtime.login import open_connector
from tiktok_etl.sandbox import SandboxServer

from .helpers import Env, add_account, make_runtime, sandbox_stats


@pytest.fixture
def served(serve: Callable[..., SandboxServer], env: Env) -> tuple[SandboxServer, Runtime]:
    server = serve()
    return server, make_runtime(env.point_at(server).variables())


def test_refresh_if_due_uses_the_reported_lifetime(
    served: tuple[SandboxServer, Runtime],
) -> None:
    server, runtime = served
    body = server.app.issue_tokens("open-a")  # 24 h tokens
    # 20 h into a 24 h lifetime: 1/6 left
    add_account(runtime, "a", body, issued_at=datetime.now(UTC) - timedelta(hours=20))
    with open_connector(runtime) as connector:
        provider = connector.token_provider(runtime.accounts.get("a"))
        kept = provider.refresh_if_due(0.1)
        assert not kept.refreshed and kept.tokens.version == 1
        rotated = provider.refresh_if_due(0.25)
        assert rotated.refreshed and rotated.tokens.version == 2
        assert rotated.tokens.access_token != body["access_token"]
        # fresh now: a second request for the same token is a no-op
        assert not provider.refresh_if_due(0.25).refreshed
        forced = provider.force_refresh()
        assert forced.refreshed and forced.tokens.version == 3
        assert provider.refreshes == 2
    assert sandbox_stats(server)["refresh_token_reuse"] == 0
    assert "act." not in repr(forced) and "rft." not in repr(forced)


@pytest.mark.parametrize("api", ["display", "business"])
def test_a_rejected_access_token_is_refreshed_once_and_the_call_retried(
    served: tuple[SandboxServer, Runtime], api: str
) -> None:
    server, runtime = served
    body = server.app.issue_tokens("open-r", api)  # type: ignore[arg-type]
    # the stored access token looks valid for hours, but TikTok rejects it
    # (Display: 401 access_token_invalid, Business: code 40105)
    body["access_token"] = "act.sbx.not-a-real-token.x"
    add_account(runtime, "r", body, api=api)
    with open_connector(runtime) as connector:
        source = connector.source(runtime.accounts.get("r"))
        if api == "display":
            assert source.display is not None
            user = source.display.user_info()
        else:
            assert source.business is not None
            user = source.business.get_profile()
        assert user is not None
    stored = runtime.tokens.load("r")
    assert stored is not None and stored.version == 2
    assert stored.access_token != body["access_token"]
    stats = sandbox_stats(server)
    refresh_endpoint = (
        "/v2/oauth/token/" if api == "display" else "/open_api/v1.3/tt_user/oauth2/refresh_token/"
    )
    assert stats["requests"][refresh_endpoint] == 1
    assert stats["refresh_token_reuse"] == 0
    assert runtime.accounts.get("r").status == "active"


@pytest.mark.parametrize(("api", "error"), [("display", "invalid_grant"), ("business", "40107")])
def test_a_refused_refresh_token_marks_the_account_reauth_required(
    served: tuple[SandboxServer, Runtime], api: str, error: str
) -> None:
    server, runtime = served
    body = server.app.issue_tokens("open-x", api)  # type: ignore[arg-type]
    add_account(runtime, "x", body, api=api)
    server.app.revoke_refresh("open-x", api)  # type: ignore[arg-type]
    with open_connector(runtime) as connector:
        provider = connector.token_provider(runtime.accounts.get("x"))
        with pytest.raises(ReauthRequired) as caught:
            provider.force_refresh()
    # the Business sandbox answers code 40107 "invalid_grant: ..."; the client maps it too
    assert caught.value.error == error
    account = runtime.accounts.get("x")
    assert account.status == "reauth_required"
    assert account.status_reason is not None and error in account.status_reason
    assert "rft." not in account.status_reason
