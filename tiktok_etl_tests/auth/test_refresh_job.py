"""The ``tiktok_token_refresh`` job, executed in process against a served sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest

from tiktok_etl.defs.tokens import (
    EXPIRING_TAG,
    REAUTH_TAG,
    REFRESH_OP,
    TOKENS_ASSET_KEY,
    refresh_run_config,
    token_refresh_job,
)
from tiktok_etl.runtime import Runtime
from tiktok_etl.sandbox import SandboxServer

from .helpers import Env, add_account, make_runtime, sandbox_stats


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def _run(
    env: Env, instance: dg.DagsterInstance, accounts: list[str], **options: Any
) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions("tiktok_accounts", accounts)
    return token_refresh_job.execute_in_process(
        run_config=refresh_run_config(accounts, **options),
        resources={"tiktok": env.resource()},
        instance=instance,
        raise_on_error=False,
    )


def _observations(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    found = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_OBSERVATION":
            observation = event.event_specific_data.asset_observation  # type: ignore[union-attr]
            assert observation.asset_key == TOKENS_ASSET_KEY
            found[observation.partition] = {k: v.value for k, v in observation.metadata.items()}
    return found


def _warnings(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance) -> list[str]:
    return [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.level >= 30 and entry.dagster_event is None
    ]


def test_refresh_rotates_due_accounts_and_isolates_one_needing_reauth(
    serve: Callable[..., SandboxServer], env: Env, instance: dg.DagsterInstance
) -> None:
    server = serve()
    runtime = make_runtime(env.point_at(server).variables())
    day_ago = datetime.now(UTC) - timedelta(hours=20)
    bodies = {
        "disp": server.app.issue_tokens("open-disp"),
        "biz": server.app.issue_tokens("open-biz", "business"),
        "dead": server.app.issue_tokens("open-dead"),
        "fresh": server.app.issue_tokens("open-fresh"),
    }
    add_account(runtime, "disp", bodies["disp"], issued_at=day_ago)
    add_account(runtime, "biz", bodies["biz"], api="business", issued_at=day_ago)
    add_account(runtime, "dead", bodies["dead"], issued_at=day_ago)
    add_account(runtime, "fresh", bodies["fresh"])
    server.app.revoke_refresh("open-dead", "display")  # the user revoked the app

    result = _run(env, instance, ["disp", "biz", "dead", "fresh"])

    assert not result.success
    failures = result.get_step_failure_events()
    assert [f.step_key for f in failures] == [f"{REFRESH_OP}[dead]"]
    message = failures[0].step_failure_data.error.message  # type: ignore[union-attr]
    assert "'dead'" in message and "needs re-authorization" in message
    assert "tiktok-etl auth login --api display --key dead" in message
    # the other accounts of the same run were refreshed
    for key in ("disp", "biz"):
        stored = runtime.tokens.load(key)
        assert stored is not None and stored.version == 2, key
        assert stored.access_token != bodies[key]["access_token"]
        assert runtime.accounts.get(key).status == "active"
    fresh = runtime.tokens.load("fresh")
    assert fresh is not None and fresh.version == 1  # not due: left alone
    dead = runtime.accounts.get("dead")
    assert dead.status == "reauth_required"
    assert dead.status_reason and "invalid_grant" in dead.status_reason

    observed = _observations(result)
    assert observed["disp"]["refreshed"] is True and observed["disp"]["token_version"] == 2
    assert observed["fresh"]["refreshed"] is False
    assert observed["dead"]["status"] == "reauth_required"
    assert observed["dead"]["fix"] == "tiktok-etl auth login --api display --key dead"
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags[REAUTH_TAG] == "dead"

    stats = sandbox_stats(server)
    assert stats["refresh_token_reuse"] == 0

    # the schedules and the sensor now skip it; a second run fails it again, without calling TikTok
    again = _run(env, instance, ["dead"])
    assert not again.success
    assert "tiktok-etl auth login" in str(again.get_step_failure_events()[0].step_failure_data)
    assert sandbox_stats(server)["requests"] == stats["requests"]


def test_force_rotates_and_unknown_accounts_fail_alone(
    serve: Callable[..., SandboxServer], env: Env, instance: dg.DagsterInstance
) -> None:
    server = serve()
    runtime = make_runtime(env.point_at(server).variables())
    add_account(runtime, "a-1", server.app.issue_tokens("open-a"))
    result = _run(env, instance, ["a-1", "ghost"], force=True)
    assert [f.step_key for f in result.get_step_failure_events()] == [f"{REFRESH_OP}[ghost]"]
    stored = runtime.tokens.load("a-1")
    assert stored is not None and stored.version == 2


def test_empty_config_refreshes_every_due_account(
    serve: Callable[..., SandboxServer], env: Env, instance: dg.DagsterInstance
) -> None:
    server = serve()
    runtime = make_runtime(env.point_at(server).variables())
    add_account(
        runtime,
        "due",
        server.app.issue_tokens("open-due"),
        issued_at=datetime.now(UTC) - timedelta(hours=23),
    )
    add_account(runtime, "fresh", server.app.issue_tokens("open-fresh"))
    instance.add_dynamic_partitions("tiktok_accounts", ["due", "fresh"])
    result = token_refresh_job.execute_in_process(
        resources={"tiktok": env.resource()}, instance=instance
    )
    assert result.success
    versions = {k: runtime.tokens.load(k).version for k in ("due", "fresh")}  # type: ignore[union-attr]
    assert versions == {"due": 2, "fresh": 1}


def test_a_refresh_token_near_its_own_expiry_warns_and_stays_active(
    serve: Callable[..., SandboxServer], env: Env, instance: dg.DagsterInstance
) -> None:
    # TikTok reports the refresh token's remaining lifetime: here 3 days
    server = serve(refresh_token_ttl=3 * 86_400)
    runtime: Runtime = make_runtime(env.point_at(server).variables())
    add_account(runtime, "old", server.app.issue_tokens("open-old"))
    result = _run(env, instance, ["old"], force=True)
    assert result.success
    assert runtime.accounts.get("old").status == "active"
    warnings = _warnings(result, instance)
    assert any(
        "old" in w and "refresh token expires" in w and "tiktok-etl auth login" in w
        for w in warnings
    ), warnings
    observed = _observations(result)["old"]
    assert observed["refresh_token_expiring"] is True
    assert "refresh token expires" in observed["refresh_token_warning"]
    output = [
        e
        for e in result.all_events
        if e.event_type_value == "STEP_OUTPUT" and e.step_key == f"{REFRESH_OP}[old]"
    ]
    metadata = output[0].event_specific_data.metadata  # type: ignore[union-attr]
    assert metadata["refresh_token_expiring"].value is True
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags[EXPIRING_TAG] == "old"
