"""Issue 10, item 10: a lost or changed token key is caught at start-up; keys rotate."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from tiktok_etl.cli import main
from tiktok_etl.settings import ConfigError

from .helpers import Env, add_account, make_runtime

BODY = {
    "access_token": "act.keys.1234567890",
    "refresh_token": "rft.keys.1234567890",
    "open_id": "open-keys",
    "expires_in": 86400,
}


def _with_key(env: Env, key: str) -> dict[str, str]:
    return {**env.variables(), "TIKTOK_ETL_TOKEN_KEY": key}


def test_start_up_with_a_changed_key_fails_saying_what_to_do(env: Env) -> None:
    add_account(make_runtime(env.variables()), "k", BODY)
    with pytest.raises(ConfigError) as raised:
        make_runtime(_with_key(env, Fernet.generate_key().decode()))
    message = str(raised.value)
    assert "TIKTOK_ETL_TOKEN_KEY" in message and "lost or changed" in message
    assert "tiktok-etl keys rotate" in message and "auth login" in message
    assert env.token_key not in message


def test_the_fingerprint_is_stored_not_the_key(env: Env) -> None:
    runtime = make_runtime(env.variables())
    import sqlalchemy as sa

    with runtime.engine.connect() as conn:
        value = conn.execute(sa.text("SELECT value FROM tiktok_etl_meta")).scalar_one()
    assert env.token_key.encode() not in bytes(value)


def test_two_keys_decrypt_old_and_new_and_rotate_retires_the_old(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = env.token_key
    add_account(make_runtime(env.variables()), "old", BODY)
    new = Fernet.generate_key().decode()
    both = make_runtime(_with_key(env, f"{new},{old}"))
    add_account(both, "new", {**BODY, "open_id": "open-new"})
    assert both.tokens.load("old").access_token == BODY["access_token"]  # type: ignore[union-attr]
    assert both.tokens.load("new").access_token == BODY["access_token"]  # type: ignore[union-attr]

    for name, value in _with_key(env, f"{new},{old}").items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "2 stored token pair" in result.output

    only_new = make_runtime(_with_key(env, new))  # the old key removed: start-up still works
    assert only_new.tokens.load("old").refresh_token == BODY["refresh_token"]  # type: ignore[union-attr]
    with pytest.raises(ConfigError):
        make_runtime(_with_key(env, old))  # and the old key alone no longer opens anything
