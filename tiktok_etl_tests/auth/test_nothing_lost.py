"""Issue 10, item 4: a rotated refresh token is never lost.

TikTok kills the old refresh token the moment it answers a refresh (the served sandbox runs
with strict rotation: a reused refresh token is refused and counted). A worker killed, or a
database that fails, between that answer and the commit must not lose the new pair.
"""

from __future__ import annotations

import multiprocessing
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tiktok_etl.api import ReauthRequired
from tiktok_etl.auth.store import TokenStore
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.sandbox import SandboxServer

from .helpers import Env, add_account, make_runtime, sandbox_stats
from .kill_worker import refresh_then_die

STALE = timedelta(hours=25)


def _commit_name() -> str:
    return "_commit_rotated" if hasattr(TokenStore, "_commit_rotated") else "compare_and_swap"


def _refresh_works(variables: dict[str, str], server: SandboxServer, key: str) -> None:
    """A fresh process's view: open the runtime (replaying), refresh again, call the API."""
    runtime = make_runtime(variables)
    connector = Connector.open(runtime)
    try:
        provider = connector.token_provider(runtime.accounts.get(key))
        result = provider.force_refresh()
        assert result.refreshed
    finally:
        connector.close()
    assert runtime.accounts.get(key).status == "active"
    assert sandbox_stats(server)["refresh_token_reuse"] == 0


@pytest.mark.parametrize("api", ["display", "business"])
def test_a_worker_killed_before_the_commit_loses_no_refresh_token(
    serve: Callable[..., SandboxServer], env: Env, api: str
) -> None:
    server = serve(strict_rotation=True)
    variables = env.point_at(server).variables()
    runtime = make_runtime(variables)
    body = server.app.issue_tokens("open-kill", api)  # type: ignore[arg-type]
    add_account(runtime, "kill", body, api=api, issued_at=datetime.now(UTC) - STALE)

    process = multiprocessing.get_context("spawn").Process(
        target=refresh_then_die, args=(variables, "kill")
    )
    process.start()
    process.join(timeout=90)
    assert process.exitcode == -9  # died between TikTok's answer and the commit

    stored = runtime.tokens.load("kill")
    assert stored is not None and stored.version == 1  # nothing committed
    _refresh_works(variables, server, "kill")
    recovery = env.home / "token_recovery"
    assert not any(recovery.glob("*.tokens"))  # replayed, then removed


def test_a_database_outage_at_the_commit_loses_no_refresh_token(
    serve: Callable[..., SandboxServer], env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(strict_rotation=True)
    variables = env.point_at(server).variables()
    runtime = make_runtime(variables)
    add_account(
        runtime,
        "outage",
        server.app.issue_tokens("open-outage"),
        issued_at=datetime.now(UTC) - STALE,
    )

    def database_down(*_args: Any, **_kwargs: Any) -> bool:
        raise sa.exc.OperationalError("UPDATE tiktok_tokens", {}, Exception("server closed"))

    monkeypatch.setattr("tiktok_etl.auth.store.PERSIST_PAUSE_SECONDS", 0.0, raising=False)
    with monkeypatch.context() as patch:
        patch.setattr(TokenStore, _commit_name(), database_down)
        connector = Connector.open(runtime)
        provider = connector.token_provider(runtime.accounts.get("outage"))
        with pytest.raises(Exception, match=r"rotated tokens|OperationalError"):
            provider.access_token()
        connector.close()

    files = list((env.home / "token_recovery").glob("*.tokens"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert b"rft." not in files[0].read_bytes()  # encrypted
    # the provider replays before its next refresh, without a restart
    connector = Connector.open(runtime)
    try:
        provider = connector.token_provider(runtime.accounts.get("outage"))
        assert provider.force_refresh().refreshed
    finally:
        connector.close()
    assert sandbox_stats(server)["refresh_token_reuse"] == 0
    assert runtime.accounts.get("outage").status == "active"


def test_the_next_start_replays_a_pair_the_database_refused(
    serve: Callable[..., SandboxServer], env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(strict_rotation=True)
    variables = env.point_at(server).variables()
    runtime = make_runtime(variables)
    add_account(
        runtime, "later", server.app.issue_tokens("open-later"), issued_at=datetime.now(UTC) - STALE
    )

    def database_down(*_args: Any, **_kwargs: Any) -> bool:
        raise sa.exc.OperationalError("UPDATE tiktok_tokens", {}, Exception("server closed"))

    monkeypatch.setattr("tiktok_etl.auth.store.PERSIST_PAUSE_SECONDS", 0.0, raising=False)
    with monkeypatch.context() as patch:
        patch.setattr(TokenStore, _commit_name(), database_down)
        connector = Connector.open(runtime)
        with pytest.raises(Exception, match=r"rotated tokens|OperationalError"):
            connector.token_provider(runtime.accounts.get("later")).access_token()
        connector.close()

    make_runtime(variables)  # the next start replays
    stored = runtime.tokens.load("later")
    assert stored is not None and stored.version == 2
    _refresh_works(variables, server, "later")


def test_a_version_conflict_keeps_the_fresh_pair(
    serve: Callable[..., SandboxServer], env: Env
) -> None:
    server = serve(strict_rotation=True)
    variables = env.point_at(server).variables()
    runtime = make_runtime(variables)
    add_account(
        runtime, "cas", server.app.issue_tokens("open-cas"), issued_at=datetime.now(UTC) - STALE
    )
    connector = Connector.open(runtime)
    refresher = connector.refresher("display")

    def refresh_while_someone_bumps_the_row(refresh_token: str) -> Any:
        fresh = refresher(refresh_token)
        with runtime.engine.begin() as conn:  # a writer that bypassed the lock
            conn.execute(sa.text("UPDATE tiktok_tokens SET version = version + 1"))
        return fresh

    provider = connector.token_provider(runtime.accounts.get("cas"))
    provider._refresher = refresh_while_someone_bumps_the_row  # type: ignore[attr-defined]
    try:
        provider.force_refresh()
    finally:
        connector.close()
    _refresh_works(variables, server, "cas")


@pytest.mark.parametrize("api", ["display", "business"])
def test_a_refresh_whose_answer_was_lost_is_not_sent_again(env: Env, api: str) -> None:
    runtime = make_runtime(env.variables())
    body = {
        "access_token": "act.lost.1234567890",
        "refresh_token": "rft.lost.1234567890",
        "open_id": "open-lost",
        "expires_in": 86400,
    }
    add_account(runtime, "lost", body, api=api, issued_at=datetime.now(UTC) - STALE)
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        raise httpx.ReadTimeout("timed out waiting for the answer", request=request)

    connector = Connector.open(runtime, http_transport=httpx.MockTransport(handler))
    connector.transport.clock.sleep = lambda _seconds: None  # type: ignore[method-assign]
    try:
        with pytest.raises(ReauthRequired) as raised:
            connector.token_provider(runtime.accounts.get("lost")).force_refresh()
    finally:
        connector.close()
    assert raised.value.error == "refresh_answer_lost"
    assert len(sent) == 1  # the burnt refresh token is not sent again
    account = runtime.accounts.get("lost")
    assert account.status == "reauth_required"
    assert "lost in transit" in (account.status_reason or "")
