"""The token refresh sensor, evaluated against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from tiktok_etl.auth.model import TokenSet
from tiktok_etl.defs.tokens import (
    PLAN_OP,
    REFRESH_FRACTION_VAR,
    refresh_fraction,
    tiktok_token_refresh_sensor,
    token_refresh_job,
)
from tiktok_etl.runtime import Runtime
from tiktok_etl.sandbox import issue_tokens
from tiktok_etl.settings import ConfigError

from .helpers import Env, add_account


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def _evaluate(env: Env, instance: dg.DagsterInstance) -> dg.SensorResult | dg.SkipReason:
    with dg.build_sensor_context(resources={"tiktok": env.resource()}, instance=instance) as ctx:
        return tiktok_token_refresh_sensor(ctx)  # type: ignore[return-value]


def _ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def _seed(runtime: Runtime) -> None:
    day = issue_tokens("open-a")  # 24 h lifetime
    two_hours = issue_tokens("open-c", access_token_ttl=7200)
    add_account(runtime, "a", day, issued_at=_ago(hours=20))  # 4 h of 24 left: due at 0.25
    add_account(runtime, "b", issue_tokens("open-b"), issued_at=_ago(hours=1))  # fresh
    add_account(runtime, "c", two_hours, issued_at=_ago(minutes=100))  # 20 min of 2 h left: due
    # expired and needing re-authorization: one run to surface it, never a refresh
    add_account(runtime, "d", issue_tokens("open-d"), issued_at=_ago(days=2))
    runtime.accounts.set_status("d", "reauth_required", "token refresh rejected: invalid_grant")


def test_due_accounts_are_requested_with_run_keys_per_token_version(
    env: Env, runtime: Runtime, instance: dg.DagsterInstance
) -> None:
    _seed(runtime)
    result = _evaluate(env, instance)
    assert isinstance(result, dg.SensorResult)
    requests = result.run_requests or []
    # soonest due first (a: due 2 h ago, c: 10 min ago); the fresh account is left out and
    # the one needing re-authorization gets a run that shows why (not a refresh attempt)
    assert [r.run_key for r in requests] == ["refresh:a:1", "refresh:c:1", "reauth:d:1"]
    first = requests[0]
    assert first.run_config["ops"][PLAN_OP]["config"]["accounts"] == ["a"]
    assert first.run_config["ops"][PLAN_OP]["config"]["fraction"] == 0.25
    assert first.tags["tiktok/account"] == "a"

    # a later tick sees the same tokens: the same run keys, so Dagster launches nothing twice
    again = _evaluate(env, instance)
    assert isinstance(again, dg.SensorResult)
    assert [r.run_key for r in again.run_requests or []] == [
        "refresh:a:1",
        "refresh:c:1",
        "reauth:d:1",
    ]

    # a new pair for `a` that is still due (e.g. stored by hand): a new version, a new key
    stale = TokenSet.from_response(issue_tokens("open-a"), _ago(hours=23))
    runtime.tokens.save("a", stale)
    third = _evaluate(env, instance)
    assert isinstance(third, dg.SensorResult)
    assert [r.run_key for r in third.run_requests or []] == [
        "refresh:a:2",
        "refresh:c:1",
        "reauth:d:1",
    ]


def test_nothing_due_skips_naming_the_next_expiry(
    env: Env, runtime: Runtime, instance: dg.DagsterInstance
) -> None:
    issued = _ago(hours=1)
    add_account(runtime, "fresh", issue_tokens("open-f"), issued_at=issued)
    add_account(runtime, "later", issue_tokens("open-l"), issued_at=_ago(minutes=10))
    result = _evaluate(env, instance)
    assert isinstance(result, dg.SkipReason)
    expires = issued + timedelta(days=1)
    assert "next expiry: fresh at" in (result.skip_message or "")
    assert f"{expires:%Y-%m-%d %H:%M:%S}Z" in (result.skip_message or "")
    assert "refresh due from" in (result.skip_message or "")


def test_skip_reason_without_accounts_and_lists_accounts_needing_reauth(
    env: Env, runtime: Runtime, instance: dg.DagsterInstance
) -> None:
    empty = _evaluate(env, instance)
    assert isinstance(empty, dg.SkipReason)
    assert "no active TikTok account" in (empty.skip_message or "")
    add_account(runtime, "d", issue_tokens("open-d"), status="reauth_required")
    surfaced = _evaluate(env, instance)
    assert isinstance(surfaced, dg.SensorResult)
    (request,) = surfaced.run_requests or []
    assert request.run_key == "reauth:d:1"
    # the run is launched (and fails, naming the fix, without asking TikTok)
    result = token_refresh_job.execute_in_process(
        run_config=request.run_config,
        instance=instance,
        resources={"tiktok": env.resource()},
        tags={"dagster/run_key": request.run_key},
        raise_on_error=False,
    )
    assert not result.success
    blocked = _evaluate(env, instance)
    assert isinstance(blocked, dg.SkipReason)
    assert "needing re-authorization: d" in (blocked.skip_message or "")


def test_the_fraction_comes_from_the_environment(
    env: Env, runtime: Runtime, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_account(runtime, "a", issue_tokens("open-a"), issued_at=_ago(hours=14))  # 10 h of 24 left
    assert isinstance(_evaluate(env, instance), dg.SkipReason)
    monkeypatch.setenv(REFRESH_FRACTION_VAR, "0.5")
    result = _evaluate(env, instance)
    assert isinstance(result, dg.SensorResult)
    assert [r.run_key for r in result.run_requests or []] == ["refresh:a:1"]
    monkeypatch.setenv(REFRESH_FRACTION_VAR, "1.5")
    with pytest.raises(ConfigError, match=REFRESH_FRACTION_VAR):
        _evaluate(env, instance)


@pytest.mark.parametrize("raw", ["0", "1", "-0.1", "nan", "inf", "a quarter"])
def test_invalid_fractions_are_config_errors_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match=REFRESH_FRACTION_VAR) as caught:
        refresh_fraction(env={REFRESH_FRACTION_VAR: raw})
    assert repr(raw) in str(caught.value)


def test_fraction_default_and_valid_values() -> None:
    assert refresh_fraction(env={}) == 0.25
    assert refresh_fraction(env={REFRESH_FRACTION_VAR: " 0.1 "}) == 0.1
