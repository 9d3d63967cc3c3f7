"""Issue 10, item 6: the token values the process holds never reach an error or the event log,
prefixed or not, and malformed tokens are refused when registered."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._serdes import serialize_value

from tiktok_etl.api.errors import OAuthError
from tiktok_etl.api.redaction import redact, register_secret
from tiktok_etl.auth.model import TokenSet
from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.sandbox import SandboxServer

from .helpers import Env, add_account, make_runtime

# no act./rft. prefix, like a Business token: only the registry can find it
RAW_TOKEN = "Zq81bizRAWtoken0000aaaa1111"


def test_registered_values_are_masked_wherever_they_appear() -> None:
    secret = "9fUnprefixedSecretValue42"
    assert secret in redact(f"Illegal header value b'{secret}\\r'")
    register_secret(secret + "\r")
    for text in (
        f"Illegal header value b'{secret}\\r'",
        f"body: <html>{secret}</html>",
        repr({"x": secret + "\r"}),
    ):
        assert secret not in redact(text)


@pytest.mark.parametrize("bad", ["act.abc def", "act.abc\rdef", "act.abc\x00def", "   "])
def test_tokens_with_whitespace_or_control_characters_are_refused_at_registration(
    env: Env, bad: str
) -> None:
    runtime = make_runtime(env.variables())
    with pytest.raises((ValueError, OAuthError), match=r"access.token") as raised:
        add_account(
            runtime,
            "bad",
            {
                "access_token": bad,
                "refresh_token": "rft.ok12345678",
                "open_id": "o",
                "expires_in": 60,
            },
        )
    assert bad.strip() not in str(raised.value) or not bad.strip()


def test_surrounding_whitespace_is_stripped_at_registration(env: Env) -> None:
    runtime = make_runtime(env.variables())
    tokens = TokenSet(
        access_token=" act.padded12345\r\n",
        refresh_token="rft.padded12345\n",
        open_id="o",
        expires_in=3600,
    )
    add_account(
        runtime,
        "padded",
        {
            "access_token": "act.x1234567",
            "refresh_token": "rft.x1234567",
            "open_id": "o",
            "expires_in": 60,
        },
    )
    runtime.tokens.save("padded", tokens)
    stored = runtime.tokens.load("padded")
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("act.padded12345", "rft.padded12345")


def test_a_corrupted_stored_token_leaks_nowhere_through_a_materialization(
    serve: Callable[..., SandboxServer],
    env: Env,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve()
    runtime = make_runtime(env.point_at(server).variables())
    add_account(runtime, "biz", server.app.issue_tokens("open-biz", "business"), api="business")
    # bypass registration: a stored token carrying a carriage return reaches httpx/h11
    with runtime.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE tiktok_tokens SET access_token_enc = :enc, expires_at = :exp"),
            {
                "enc": runtime.cipher.encrypt(RAW_TOKEN + "\r"),
                "exp": datetime.now(UTC) + timedelta(hours=5),
            },
        )
    day = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("tiktok_accounts", ["biz"])
        result = dg.materialize(
            RAW_ASSETS,
            partition_key=f"biz|{day}",
            resources={"tiktok": env.resource()},
            instance=instance,
            raise_on_error=False,
        )
        assert not result.success
        event_log = "\n".join(serialize_value(e) for e in instance.all_logs(result.run_id))
        failures = [
            e.step_failure_data.error
            for e in result.all_events
            if e.is_step_failure and e.step_failure_data
        ]
    assert "RequestNotSendable" in event_log and "header value is not valid HTTP" in event_log
    captured = capfd.readouterr()
    # httpcore's own DEBUG trace repeats h11's message verbatim; it is not ours to redact
    logs = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )
    errors = "\n".join(str(f) for f in failures)
    for where, text in (
        ("event log", event_log),
        ("stdout", captured.out),
        ("stderr", captured.err),
        ("logs", logs),
        ("failures", errors),
    ):
        assert RAW_TOKEN not in text, f"{where} shows the token"
    _ = traceback  # tracebacks are part of the serialized failure events above


def test_a_malformed_token_response_leaks_nothing(env: Env) -> None:
    payload = {
        "access_token": "Qq9notprefixed token\r",
        "refresh_token": "x",
        "open_id": "o",
        "expires_in": 10,
    }
    with pytest.raises(OAuthError) as raised:
        TokenSet.from_response(payload, datetime.now(UTC))
    assert "Qq9notprefixed" not in str(raised.value)
