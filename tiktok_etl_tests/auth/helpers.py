"""Helpers for the token lifecycle tests (no fixtures here; see conftest.py)."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import click
import httpx
import pytest

from tiktok_etl.auth.model import TokenSet
from tiktok_etl.cli.auth import auth
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.runtime import Runtime, open_runtime
from tiktok_etl.sandbox import SandboxServer
from tiktok_etl.settings import Settings
from tiktok_etl.storage.accounts import Account

CLIENT_KEY = "test-client-key"
CLIENT_SECRET = "test-client-secret-S3CR3T"
# anything that looks like a sandbox token or authorization code
SECRET_PATTERN = re.compile(r"(act|rft|code)\.sbx\.[A-Za-z0-9_-]+")


@dataclass
class Env:
    db_url: str
    token_key: str
    home: Path
    extra: dict[str, str] = field(default_factory=dict)
    monkeypatch: pytest.MonkeyPatch | None = None

    def variables(self) -> dict[str, str]:
        return {
            "TIKTOK_ETL_DATABASE_URL": self.db_url,
            "TIKTOK_ETL_TOKEN_KEY": self.token_key,
            "TIKTOK_ETL_HOME": str(self.home),
            **self.extra,
        }

    def point_at(self, server: SandboxServer) -> Env:
        """Talk to a served sandbox (app credentials are placeholders it accepts)."""
        self.extra.update(
            {
                "TIKTOK_API_BASE_URL": server.base_url,
                "TIKTOK_BUSINESS_API_BASE_URL": server.business_base_url,
                "TIKTOK_AUTHORIZE_URL": server.base_url + "/v2/auth/authorize/",
                "TIKTOK_ETL_SANDBOX": "1",
            }
        )
        self.apply()
        return self

    def apply(self) -> None:
        if self.monkeypatch is not None:
            for name, value in self.variables().items():
                self.monkeypatch.setenv(name, value)

    def resource(self) -> TikTokConnectorResource:
        v = self.variables()
        return TikTokConnectorResource(
            database_url=v["TIKTOK_ETL_DATABASE_URL"],
            token_key=v["TIKTOK_ETL_TOKEN_KEY"],
            home=v["TIKTOK_ETL_HOME"],
            sandbox=v.get("TIKTOK_ETL_SANDBOX", "1"),
            api_base_url=v.get("TIKTOK_API_BASE_URL"),
            business_api_base_url=v.get("TIKTOK_BUSINESS_API_BASE_URL"),
            authorize_url=v.get("TIKTOK_AUTHORIZE_URL"),
        )


def make_runtime(variables: dict[str, str]) -> Runtime:
    return open_runtime(Settings.from_env({"TIKTOK_ETL_SANDBOX": "1", **variables}))


def add_account(
    runtime: Runtime,
    key: str,
    payload: dict[str, Any],
    *,
    api: str = "display",
    issued_at: datetime | None = None,
    status: str = "active",
) -> Account:
    """Register an account with a sandbox token body, as if issued at ``issued_at``."""
    tokens = TokenSet.from_response(payload, issued_at or datetime.now(UTC))
    account = runtime.accounts.add(
        Account(account_key=key, api=api, open_id=tokens.open_id, status=status)  # type: ignore[arg-type]
    )
    runtime.tokens.save(key, tokens)
    return account


def sandbox_stats(server: SandboxServer) -> dict[str, Any]:
    """The served sandbox's counters, read over HTTP like any client would."""
    return httpx.get(server.base_url + "/sandbox/stats/").json()


# driving the CLI's OAuth flow like a browser would

URL_LINE = re.compile(r"^(http://\S+/v2/auth/authorize/?\?\S+)$", re.MULTILINE)


@dataclass
class Output:
    """Everything the commands printed, accumulated across `capsys.readouterr()` calls."""

    capsys: pytest.CaptureFixture[str]
    text: list[str] = field(default_factory=list)
    seen: int = 0  # characters already searched for an authorize URL

    def read(self) -> str:
        captured = self.capsys.readouterr()
        self.text += [captured.out, captured.err]
        return "".join(self.text)


@dataclass
class Login:
    thread: threading.Thread
    outcome: dict[str, Any]

    def result(self) -> dict[str, Any]:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "auth login did not finish"
        return self.outcome


def run_cli(command: click.Command, args: list[str]) -> Exception | None:
    try:
        command.main(args, standalone_mode=False)
    except click.ClickException as exc:
        return exc
    return None


def start_login(args: list[str]) -> Login:
    outcome: dict[str, Any] = {}

    def target() -> None:
        outcome["error"] = run_cli(auth, ["login", "--no-browser", "--timeout", "20", *args])

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return Login(thread, outcome)


def printed_url(output: Output, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = URL_LINE.search(output.read(), output.seen)
        if match:
            output.seen = match.end()
            return match.group(1)
        time.sleep(0.02)
    raise AssertionError(f"no authorize URL printed: {output.read()!r}")


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=parts.query + "&" + urlencode(params)))


def consent(url: str, **sandbox: str) -> str:
    """What the browser does on TikTok's consent page: returns the redirect's Location."""
    response = httpx.get(with_query(url, **sandbox) if sandbox else url, follow_redirects=False)
    assert response.status_code == 302
    return response.headers["location"]


def deliver(location: str) -> httpx.Response:
    """The browser following the redirect to the local callback listener."""
    return httpx.get(location, follow_redirects=False)


def assert_no_secrets(text: str, *extra: str) -> None:
    assert not SECRET_PATTERN.search(text), SECRET_PATTERN.search(text)
    for secret in (CLIENT_SECRET, *extra):
        assert secret not in text
