"""Every user error ends ``tiktok-etl`` with one line on stderr naming the fix, and exit code 2.

Configuration, the token key, account state, a refused login and TikTok's error answers are
user errors; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import Result

from tiktok_etl.api.errors import (
    ApiError,
    OAuthError,
    RateLimited,
    ReauthRequired,
    ScopeNotAuthorized,
    ServerError,
    TikTokError,
    TokenExpired,
    TransportError,
)
from tiktok_etl.cli import main
from tiktok_etl.cli.errors import Command, Group

from .conftest import CliInvoke

NOT_A_KEY = "not-a-key"


def assert_user_error(result: Result, *fix: str) -> str:
    """Exit 2, exactly one line on stderr, nothing on stdout, the fix named, no traceback."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for text in fix:
        assert text in lines[0]
    return lines[0]


def add_account(tiktok_etl: CliInvoke, key: str = "acme_main", **env: str) -> Result:
    return tiktok_etl(
        "accounts", "add", "--key", key, "--api", "display", "--open-id", "open-acme",
        "--access-token", "act.test", "--refresh-token", "rft.test",
        **env,
    )  # fmt: skip


def test_a_malformed_token_key_names_keygen_in_one_line(tiktok_etl: CliInvoke) -> None:
    result = tiktok_etl("accounts", "list", TIKTOK_ETL_TOKEN_KEY=NOT_A_KEY)

    line = assert_user_error(result, "TIKTOK_ETL_TOKEN_KEY", "tiktok-etl keygen")
    assert NOT_A_KEY not in line
    assert "python -c" not in line


def test_a_corrupt_token_key_file_names_the_key_variable(
    tiktok_etl: CliInvoke, user_env: dict[str, str | None]
) -> None:
    home = Path(str(user_env["TIKTOK_ETL_HOME"]))
    home.mkdir(parents=True)
    (home / "token.key").write_text("garbage\n")

    result = tiktok_etl("accounts", "list", TIKTOK_ETL_TOKEN_KEY=None)

    assert_user_error(result, str(home / "token.key"), "TIKTOK_ETL_TOKEN_KEY")


def test_tokens_encrypted_with_another_key_name_the_key_and_reauthorization(
    tiktok_etl: CliInvoke,
) -> None:
    assert add_account(tiktok_etl).exit_code == 0

    other_key = "8mOMrHHSgE0cSO8yGCOEYeOgGJcxAr52i9m6G1sIuwk="
    result = tiktok_etl("accounts", "list", TIKTOK_ETL_TOKEN_KEY=other_key)

    # caught at start-up by the key fingerprint, before any token is used
    assert_user_error(result, "lost or changed", "TIKTOK_ETL_TOKEN_KEY", "re-authorize")


def test_a_missing_token_key_with_a_configured_database_names_keygen(
    tiktok_etl: CliInvoke,
) -> None:
    result = tiktok_etl("accounts", "list", TIKTOK_ETL_TOKEN_KEY=None)

    assert_user_error(result, "TIKTOK_ETL_TOKEN_KEY must be set", "tiktok-etl keygen")


def test_an_invalid_setting_names_the_variable(tiktok_etl: CliInvoke) -> None:
    result = tiktok_etl("accounts", "list", TIKTOK_ETL_DATABASE_URL="mysql://host/db")

    assert_user_error(result, "TIKTOK_ETL_DATABASE_URL", "postgresql://")


def test_an_unknown_account_names_accounts_add(tiktok_etl: CliInvoke) -> None:
    result = tiktok_etl("accounts", "disable", "nobody")

    assert_user_error(result, "'nobody'", "tiktok-etl accounts add")


def test_a_taken_account_key_says_to_choose_another(tiktok_etl: CliInvoke) -> None:
    assert add_account(tiktok_etl).exit_code == 0

    result = add_account(tiktok_etl)

    assert_user_error(result, "already exists", "choose another key")


def test_an_invalid_account_key_says_what_a_key_may_hold(tiktok_etl: CliInvoke) -> None:
    result = add_account(tiktok_etl, key="Acme Main!")

    assert_user_error(result, "invalid account key", "lowercase letters")


def test_a_refused_login_step_says_what_to_do(tiktok_etl: CliInvoke) -> None:
    result = tiktok_etl("auth", "exchange", "--key", "nobody", "--code", "c", "--state", "s")

    assert_user_error(result, "no pending login", "auth url")


TIKTOK_ERRORS = [
    (ReauthRequired("invalid_grant", "refresh token expired"), "tiktok-etl auth login"),
    (TokenExpired("/v2/user/info/", "access_token_invalid"), "tiktok-etl auth login"),
    (ScopeNotAuthorized("/v2/video/list/", "scope_not_authorized"), "--scopes"),
    (RateLimited("/v2/video/list/", "rate_limit_exceeded", retry_after=30), "wait"),
    (ServerError("/v2/video/list/", "internal_error", http_status=500), "later"),
    (TransportError("/v2/video/list/", "connection refused"), "TIKTOK_API_BASE_URL"),
    (OAuthError("invalid_client", "client_key mismatch"), "TIKTOK_CLIENT_KEY"),
    (ApiError("/v2/video/list/", "invalid_params"), "tiktok-etl auth login"),
    (TikTokError("something TikTok-side"), "run the command again"),
]


@pytest.mark.parametrize(
    ("error", "fix"), TIKTOK_ERRORS, ids=[type(e).__name__ for e, _ in TIKTOK_ERRORS]
)
def test_a_tiktok_error_answer_names_the_fix(
    tiktok_etl: CliInvoke, monkeypatch: pytest.MonkeyPatch, error: TikTokError, fix: str
) -> None:
    def answer_with_error() -> None:
        raise error

    monkeypatch.setattr("tiktok_etl.runtime.registration.describe_accounts", answer_with_error)

    result = tiktok_etl("accounts", "list")

    assert_user_error(result, str(error), fix)


@pytest.mark.parametrize("bug", [RuntimeError("bug"), ValueError("not a token key")])
def test_an_unexpected_exception_is_not_turned_into_a_message(
    tiktok_etl: CliInvoke, monkeypatch: pytest.MonkeyPatch, bug: Exception
) -> None:
    def fail() -> None:
        raise bug

    monkeypatch.setattr("tiktok_etl.runtime.registration.describe_accounts", fail)

    result = tiktok_etl("accounts", "list")

    assert result.exception is bug
    assert result.exit_code == 1


def test_the_console_script_reports_a_malformed_token_key_in_one_line(
    user_env: dict[str, str | None],
) -> None:
    script = shutil.which("tiktok-etl", path=str(Path(sys.executable).parent))
    assert script is not None, "the tiktok-etl console script is not installed"
    env = {name: value for name, value in os.environ.items() if value is not None}
    for name, value in user_env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env["TIKTOK_ETL_TOKEN_KEY"] = NOT_A_KEY

    done = subprocess.run(
        [script, "accounts", "list"], env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "Error: TIKTOK_ETL_TOKEN_KEY is not a valid Fernet key: expected 32 bytes in "
        "url-safe base64 (44 characters). Generate one with `tiktok-etl keygen`"
    ]


def _commands(group: click.Group) -> list[click.Command]:
    found: list[click.Command] = [group]
    for command in group.commands.values():
        found += _commands(command) if isinstance(command, click.Group) else [command]
    return found


def test_every_command_reports_user_errors_through_the_one_handler() -> None:
    commands = _commands(main)

    assert len(commands) >= 20
    for command in commands:
        assert isinstance(command, Command | Group), command.name


def test_a_group_refuses_a_command_that_bypasses_the_handler() -> None:
    @click.command()
    def plain() -> None:
        """A command made without tiktok_etl.cli.errors."""

    with pytest.raises(TypeError, match="'plain'"):
        Group(name="g").add_command(plain)
