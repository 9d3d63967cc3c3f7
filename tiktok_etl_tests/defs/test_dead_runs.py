"""A run killed mid-step (SIGKILL, OOM, a lost node) never blocks the runs after it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import dagster as dg
import pytest
from dagster._daemon.monitoring import (
    execute_concurrency_slots_iteration,
    execute_run_monitoring_iteration,
)

from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.runtime import run_recovery
from tiktok_etl.runtime.run_recovery import POOL, Verdict, judge, slot_holders, worker_tags
from tiktok_etl.runtime.run_watch import LocalRunLauncher
from tiktok_etl.sandbox import FaultConfig, SandboxApp

from .conftest import materialize

DAY = date(2026, 11, 8)
TIMEOUT = 180  # a bound against hanging, never a measure: every wait polls for its condition

_MATERIALIZE_SCRIPT = """
import sys
import dagster as dg
from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.resources import resource_from_environment
with dg.DagsterInstance.get() as instance:
    result = dg.materialize(
        RAW_ASSETS,
        partition_key=dg.MultiPartitionKey({"account": sys.argv[1], "date": sys.argv[2]}),
        instance=instance,
        resources={"tiktok": resource_from_environment()},
        raise_on_error=False,
    )
sys.exit(0 if result.success else 1)
"""


def _start_run(account_key: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TIKTOK_ETL_COMMENT_WORKERS": "2"}
    args = [sys.executable, "-c", _MATERIALIZE_SCRIPT, account_key, DAY.isoformat()]
    return subprocess.Popen(args, env=env)


def _wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def _started_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])))


@dataclass
class _Worker:
    """A stand-in for the daemon's workspace context: run monitoring needs only the instance."""

    instance: dg.DagsterInstance

    def create_request_context(self) -> None:
        return None


@pytest.fixture
def one_slot(instance: dg.DagsterInstance) -> Iterator[dg.DagsterInstance]:
    """The pool down to one slot, so a single dead run holds all of it."""
    instance.event_log_storage.set_concurrency_slots(POOL, 1)
    yield instance


def _kill_a_run_mid_step(instance: dg.DagsterInstance, sandbox_app: SandboxApp) -> dg.DagsterRun:
    sandbox_app.set_faults(FaultConfig(latency=0.01))
    proc = _start_run("brand")
    try:
        _wait_for(
            lambda: sandbox_app.stats.snapshot()["requests_total"] >= 40 or proc.poll() is not None,
            "the run to be mid-step",
        )
        assert proc.poll() is None, "the run finished before it could be killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    sandbox_app.set_faults(FaultConfig())
    (dead,) = _started_runs(instance)
    assert dead.run_id in slot_holders(instance), "the killed run should hold the pool's slot"
    return dead


def test_run_monitoring_fails_a_killed_run_frees_its_slot_and_the_next_run_completes(
    add_account: Callable[..., None],
    one_slot: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    sandbox_app: SandboxApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    instance = one_slot
    assert instance.run_monitoring_enabled
    assert isinstance(instance.run_launcher, LocalRunLauncher)
    add_account("brand", "business", "brand-open-id")
    dead = _kill_a_run_mid_step(instance, sandbox_app)

    # one pass of the daemon's run monitoring, as `dagster-daemon` runs it every minute
    daemon, logger = _Worker(instance), logging.getLogger("test.monitoring")
    list(execute_run_monitoring_iteration(daemon, logger))  # type: ignore[arg-type]
    failed = instance.get_run_by_id(dead.run_id)
    assert failed is not None and failed.status == dg.DagsterRunStatus.FAILURE

    # the daemon frees a finished run's slots once it has been over for this long
    monkeypatch.setitem(instance.run_monitoring_settings, "free_slots_after_run_end_seconds", 1)

    def freed() -> bool:
        list(execute_concurrency_slots_iteration(daemon, logger))  # type: ignore[arg-type]
        return dead.run_id not in slot_holders(instance)

    _wait_for(freed, "the daemon to free the dead run's slot")
    assert materialize(instance, resource, "brand", DAY.isoformat()).success


def test_a_run_blocked_by_a_dead_run_names_it_and_runs_recover_lets_it_finish(
    add_account: Callable[..., None],
    one_slot: dg.DagsterInstance,
    cli: Callable[..., object],
    sandbox_app: SandboxApp,
) -> None:
    instance = one_slot
    add_account("brand", "business", "brand-open-id")
    add_account("rival", "business", "rival-open-id")
    dead = _kill_a_run_mid_step(instance, sandbox_app)

    waiting = _start_run("rival")  # no daemon: only the run itself can tell what blocks it
    try:
        _wait_for(lambda: len(_started_runs(instance)) == 2, "the next run to start")
        (blocked,) = [r for r in _started_runs(instance) if r.run_id != dead.run_id]

        def warnings() -> list[str]:
            events = instance.all_logs(blocked.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
            return [e.message for e in events if e.level == logging.WARNING]

        _wait_for(warnings, "the blocked run to say why")
        said = warnings()[0]
        assert dead.run_id in said and "STARTED but its process" in said
        assert "tiktok-etl runs recover" in said

        output = cli("runs", "recover").output  # type: ignore[attr-defined]
        assert f"{dead.run_id} (" in output and "marked failed, freed 1 slot(s)" in output
        assert waiting.wait(timeout=TIMEOUT) == 0
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    statuses = {r.run_id: r.status for r in instance.get_runs()}
    assert statuses[dead.run_id] == dg.DagsterRunStatus.FAILURE
    assert statuses[blocked.run_id] == dg.DagsterRunStatus.SUCCESS
    assert not slot_holders(instance)


def test_runs_recover_leaves_live_and_unjudgeable_runs_alone(
    instance: dg.DagsterInstance, cli: Callable[..., object]
) -> None:
    output = cli("runs", "recover").output  # type: ignore[attr-defined]
    assert "no dead runs" in output


def test_a_worker_is_judged_by_its_host_pid_and_start_time() -> None:
    assert judge(worker_tags()) is Verdict.ALIVE
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tags = worker_tags(child.pid)
    assert judge(tags) is Verdict.ALIVE
    child.kill()
    # killed but not reaped yet (a zombie): dead already
    _wait_for(lambda: judge(tags) is Verdict.DEAD, "the killed process to be judged dead")
    child.wait()
    assert judge(tags) is Verdict.DEAD
    assert judge({**worker_tags(), run_recovery.PROCESS_START_TAG: "0:0"}) is Verdict.DEAD
    assert judge({**worker_tags(), run_recovery.HOST_TAG: "another-host"}) is Verdict.UNKNOWN
    assert judge({}) is Verdict.UNKNOWN
