"""``tiktok-etl auth login / url / exchange`` and ``accounts revoke``, end to end against a
sandbox served over sockets: the printed authorize URL is fetched with httpx (no redirects
followed) and its Location delivered to the command's callback listener."""

from __future__ import annotations

import re
import stat
import threading
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import click
import dagster as dg
import pytest

from tiktok_etl.auth.login import pending_path
from tiktok_etl.cli.auth import accounts_revoke, auth
from tiktok_etl.runtime import Runtime
from tiktok_etl.sandbox import SandboxServer
from tiktok_etl.sandbox.tokens import TokenRejected

from .helpers import (
    Env,
    Output,
    assert_no_secrets,
    consent,
    deliver,
    make_runtime,
    printed_url,
    run_cli,
    start_login,
)


@pytest.fixture
def server(serve: Callable[..., SandboxServer], cli_env: Env) -> SandboxServer:
    server = serve()
    cli_env.point_at(server)
    return server


@pytest.fixture
def runtime(server: SandboxServer, cli_env: Env) -> Runtime:
    return make_runtime(cli_env.variables())


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> Iterator[Output]:
    yield Output(capsys)


@pytest.mark.parametrize(
    ("api", "pkce", "challenge"),
    [
        ("display", "S256", re.compile(r"^[A-Za-z0-9_-]{43}$")),
        ("display", "hex", re.compile(r"^[0-9a-f]{64}$")),
        ("business", "S256", None),
    ],
    ids=["display-S256", "display-hex", "business"],
)
def test_login_end_to_end(
    server: SandboxServer,
    runtime: Runtime,
    output: Output,
    caplog: pytest.LogCaptureFixture,
    api: str,
    pkce: str,
    challenge: re.Pattern[str] | None,
) -> None:
    caplog.set_level("DEBUG")
    # an earlier Dagster run in this process may have set the managed `tiktok_etl` loggers
    # to INFO (python_log_level in dagster.yaml); the command logs its requests at DEBUG
    caplog.set_level("DEBUG", logger="tiktok_etl")
    login = start_login(
        [
            *("--api", api, "--key", "acme_main", "--pkce", pkce, "--keywords", "shoes, socks"),
            *("--tenant-id", "7", "--source-id", "src-1", "--keyword-mode", "filter"),
        ]
    )
    url = printed_url(output)
    query = parse_qs(urlsplit(url).query)
    redirect_uri = query["redirect_uri"][0]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback/", redirect_uri)
    assert len(query["state"][0]) >= 32
    if challenge is None:  # the Business token endpoint takes no verifier: state only
        assert "code_challenge" not in query
    else:
        assert challenge.match(query["code_challenge"][0])
        assert query["code_challenge_method"] == ["S256"]

    location = consent(url, sandbox_open_id="open-acme")
    assert location.startswith(redirect_uri + "?")
    page = deliver(location)
    assert page.status_code == 200 and "return to the terminal" in page.text
    assert login.result()["error"] is None

    account = runtime.accounts.get("acme_main")
    assert (account.api, account.open_id, account.status) == (api, "open-acme", "active")
    assert (account.tenant_id, account.source_id) == (7, "src-1")
    assert (account.keywords, account.keyword_mode) == (("shoes", "socks"), "filter")
    stored = runtime.tokens.load("acme_main")
    assert stored is not None and stored.access_token.startswith("act.")
    assert stored.expires_at is not None and stored.refresh_expires_at is not None
    # the account's Dagster partition exists too
    with dg.DagsterInstance.get() as instance:
        assert "acme_main" in instance.get_dynamic_partitions("tiktok_accounts")

    text = output.read()
    assert f"registered acme_main ({api}, open_id open-acme)" in text
    # log records of the command (this thread only plays the browser, whose URLs hold the code)
    logs = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if r.thread != threading.get_ident()
    )
    assert "POST /v2/oauth/token/" in logs or "tt_user/oauth2/token/" in logs
    code = parse_qs(urlsplit(location).query)["code"][0]
    assert_no_secrets(text + logs, stored.access_token, stored.refresh_token or "", code)


def test_state_mismatch_is_rejected(
    server: SandboxServer, runtime: Runtime, output: Output
) -> None:
    login = start_login(["--api", "display", "--key", "forged"])
    location = consent(printed_url(output))
    parts = urlsplit(location)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    params["state"] = "forged-state-from-another-site"
    deliver(urlunsplit(parts._replace(query=urlencode(params))))
    error = login.result()["error"]
    assert isinstance(error, click.ClickException)
    assert "state does not match" in error.message and "Start the login again" in error.message
    assert not runtime.accounts.exists("forged")
    assert_no_secrets(error.message + output.read(), params["code"])


def test_denied_consent_is_rejected(
    server: SandboxServer, runtime: Runtime, output: Output
) -> None:
    login = start_login(["--api", "business", "--key", "denied"])
    location = consent(printed_url(output), sandbox_consent="deny")
    assert "error=access_denied" in location
    page = deliver(location)
    assert "Authorization not completed" in page.text
    error = login.result()["error"]
    assert isinstance(error, click.ClickException)
    assert "denied" in error.message and "nothing was stored" in error.message
    assert not runtime.accounts.exists("denied")


def test_headless_url_then_exchange(
    server: SandboxServer, runtime: Runtime, output: Output, cli_env: Env
) -> None:
    redirect = "https://connector.example.com/tiktok/callback/"
    assert (
        run_cli(auth, ["url", "--api", "display", "--key", "remote", "--redirect-uri", redirect])
        is None
    )
    url = printed_url(output)
    path = pending_path(cli_env.home, "remote")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    verifier = re.search(r'"code_verifier": "([^"]+)"', path.read_text())
    assert verifier is not None
    location = consent(url, sandbox_open_id="open-remote")
    assert location.startswith(redirect + "?")

    # a wrong state is rejected and the pending login kept for the right callback
    code = parse_qs(urlsplit(location).query)["code"][0]
    wrong = run_cli(auth, ["exchange", "--key", "remote", "--code", code, "--state", "nope"])
    assert isinstance(wrong, click.ClickException) and "state does not match" in wrong.message
    assert path.exists()

    assert run_cli(auth, ["exchange", "--key", "remote", "--callback-url", location]) is None
    assert not path.exists()
    assert runtime.accounts.get("remote").open_id == "open-remote"
    text = output.read()
    assert "registered remote (display, open_id open-remote)" in text
    assert_no_secrets(text, code, verifier.group(1))

    missing = run_cli(auth, ["exchange", "--key", "remote", "--callback-url", location])
    assert isinstance(missing, click.ClickException) and "no pending login" in missing.message


def test_login_again_repairs_an_account_needing_reauth_and_revoke_ends_it(
    server: SandboxServer, runtime: Runtime, output: Output
) -> None:
    login = start_login(["--api", "display", "--key", "creator"])
    deliver(consent(printed_url(output), sandbox_open_id="open-creator"))
    assert login.result()["error"] is None
    runtime.accounts.set_status("creator", "reauth_required", "token refresh rejected")

    # another TikTok identity cannot take the account over
    login = start_login(["--api", "display", "--key", "creator"])
    deliver(consent(printed_url(output), sandbox_open_id="someone-else"))
    error = login.result()["error"]
    assert isinstance(error, click.ClickException) and "not the one of account" in error.message
    assert runtime.accounts.get("creator").status == "reauth_required"

    login = start_login(["--api", "display", "--key", "creator"])
    deliver(consent(printed_url(output), sandbox_open_id="open-creator"))
    assert login.result()["error"] is None
    account = runtime.accounts.get("creator")
    assert (account.status, account.status_reason) == ("active", None)
    stored = runtime.tokens.load("creator")
    assert stored is not None and stored.version == 2
    assert "re-authorized creator" in output.read()

    assert run_cli(accounts_revoke, ["creator", "--yes"]) is None
    account = runtime.accounts.get("creator")
    assert account.status == "revoked"
    assert runtime.tokens.load("creator") is None
    with pytest.raises(TokenRejected):  # TikTok no longer accepts the token
        server.app.tokens.verify_access(stored.access_token, "display")
    text = output.read()
    assert "revoked creator: token revoked at TikTok" in text
    assert_no_secrets(text, stored.access_token)
