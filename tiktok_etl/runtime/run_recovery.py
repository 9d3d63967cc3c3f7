"""Find runs whose process died, mark them failed and free the pool slots they hold.

A run killed by SIGKILL or the OOM killer never reports its end: it stays ``STARTED`` in the
Dagster instance and keeps its ``tiktok_api`` pool slots, so every later run waits on them.
Dagster's run monitoring can only see such a run when the run launcher can check its
worker, and the local ``DefaultRunLauncher`` cannot. So every run worker records where it
runs (:func:`worker_tags`: host, pid and the process's start time, as run tags), and this
module judges a run by them:

- ``alive``: the recorded process still runs on this host;
- ``dead``: this is its host and the process is gone (or is another process by now);
- ``unknown``: another host, or no record (a run from before the tags existed). Never
  judged: only its own host, or an operator with ``--run-id``, can say it is dead.

The daemon applies this through run monitoring (see :mod:`tiktok_etl.runtime.run_watch`);
without a daemon, ``tiktok-etl runs recover`` calls :func:`recover_dead_runs`. Only the
Dagster instance API is used here: nothing of the UI, nothing of our own storage.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import dagster as dg

HOST_TAG = "tiktok_etl/worker_host"
PID_TAG = "tiktok_etl/worker_pid"
PROCESS_START_TAG = "tiktok_etl/worker_started"
RECOVER_COMMAND = "tiktok-etl runs recover"
POOL = "tiktok_api"

_PROC = Path("/proc")


class Verdict(Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"


def process_start(pid: int) -> str:
    """The process's boot id and start time in clock ticks (Linux), so a pid reused after the
    worker died, or after a reboot, is not taken for the worker; ``""`` where /proc is absent."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        boot_id = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""
    # the command name (field 2) may hold spaces and parentheses: split after its last ")"
    fields = stat[stat.rindex(")") + 2 :].split()
    return f"{boot_id}:{fields[19]}"


def worker_tags(pid: int | None = None) -> dict[str, str]:
    """Tags naming the process that executes a run (this one unless ``pid`` is given)."""
    pid = os.getpid() if pid is None else pid
    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(pid),
        PROCESS_START_TAG: process_start(pid),
    }


def _process_alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    if not _PROC.is_dir():
        return True
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    if stat[stat.rindex(")") + 2 :].split()[0] in {"Z", "X"}:
        return False  # killed, not yet reaped by its parent
    return not started or process_start(pid) == started


def judge(tags: dict[str, str]) -> Verdict:
    """Whether the process recorded in a run's tags still runs (see the module docstring)."""
    host, pid = tags.get(HOST_TAG), tags.get(PID_TAG, "")
    if host != socket.gethostname() or not pid.isdigit():
        return Verdict.UNKNOWN
    alive = _process_alive(int(pid), tags.get(PROCESS_START_TAG, ""))
    return Verdict.ALIVE if alive else Verdict.DEAD


@dataclass(frozen=True)
class StaleRun:
    """A run that holds pool slots (or counts as running) although nothing executes it."""

    run_id: str
    job_name: str
    status: dg.DagsterRunStatus
    verdict: Verdict
    worker: str
    slots: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        held = f", holding {len(self.slots)} slot(s) of {POOL}" if self.slots else ""
        if self.status == dg.DagsterRunStatus.STARTED:
            state = f"STARTED but its process ({self.worker}) is gone"
        else:
            state = f"{self.status.value}"
        return f"run {self.run_id} ({self.job_name}): {state}{held}"


def worker_label(tags: dict[str, str]) -> str:
    if PID_TAG not in tags:
        return "no recorded worker"
    return f"pid {tags[PID_TAG]} on {tags.get(HOST_TAG, '?')}"


def slot_holders(instance: dg.DagsterInstance, pool: str = POOL) -> dict[str, list[str]]:
    """Run id -> the step keys holding a slot of ``pool``; a run with a step assigned a slot
    it has not claimed yet holds it too (with no step listed)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits or pool not in storage.get_concurrency_keys():
        return {}
    info = storage.get_concurrency_info(pool)
    holders: dict[str, list[str]] = {}
    for step in info.pending_steps:
        if step.assigned_timestamp is not None:
            holders.setdefault(step.run_id, [])
    for slot in info.claimed_slots:
        holders.setdefault(slot.run_id, []).append(slot.step_key)
    return holders


def find_stale_runs(
    instance: dg.DagsterInstance,
    force_run_ids: Iterable[str] = (),
    exclude_run_ids: Iterable[str] = (),
) -> list[StaleRun]:
    """STARTED runs whose process is gone, and finished runs still holding pool slots.

    ``force_run_ids`` are taken as dead whatever their tags say (an operator's judgement, for
    a worker on another host or one that recorded nothing)."""
    forced, excluded = set(force_run_ids), set(exclude_run_ids)
    holders = slot_holders(instance)
    started = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])
    )
    wanted = {r.dagster_run.run_id: r.dagster_run for r in started}
    missing = (set(holders) | forced) - set(wanted)
    if missing:
        for record in instance.get_run_records(filters=dg.RunsFilter(run_ids=sorted(missing))):
            wanted[record.dagster_run.run_id] = record.dagster_run
    stale: list[StaleRun] = []
    for run_id, run in sorted(wanted.items()):
        if run_id in excluded:
            continue
        verdict = Verdict.DEAD if run_id in forced else judge(dict(run.tags))
        finished = run.is_finished and run_id in holders
        if verdict == Verdict.DEAD or finished:
            stale.append(
                StaleRun(
                    run_id=run_id,
                    job_name=run.job_name,
                    status=run.status,
                    verdict=verdict,
                    worker=worker_label(dict(run.tags)),
                    slots=tuple(holders.get(run_id, ())),
                )
            )
    return stale


def recover_run(instance: dg.DagsterInstance, stale: StaleRun) -> None:
    """Mark a dead run failed (if it still counts as running) and free its slots."""
    run = instance.get_run_by_id(stale.run_id)
    if run is not None and not run.is_finished:
        instance.report_run_failed(
            run,
            f"The run's process ({stale.worker}) is gone (killed, out of memory, or its node "
            "was lost): marked failed and its pool slots freed. Re-run its partitions; a "
            "partition write is atomic, so the previous data is intact.",
        )
    instance.event_log_storage.free_concurrency_slots_for_run(stale.run_id)


def recover_dead_runs(
    instance: dg.DagsterInstance, force_run_ids: Sequence[str] = ()
) -> list[StaleRun]:
    """Mark every dead run failed and free the slots of every stale run; returns them."""
    stale = find_stale_runs(instance, force_run_ids=force_run_ids)
    for run in stale:
        recover_run(instance, run)
    return stale


def blocked_by_dead_runs_message(
    instance: dg.DagsterInstance, pool: str, waiting_run_id: str
) -> str | None:
    """What a run waiting on ``pool`` should say when dead or finished runs hold its slots."""
    holders = slot_holders(instance, pool)
    if not holders:
        return None
    stale = [
        s
        for s in find_stale_runs(instance, exclude_run_ids=[waiting_run_id])
        if s.run_id in holders
    ]
    if not stale:
        return None
    named = "; ".join(s.describe() for s in stale)
    return (
        f"pool {pool}: slots are held by runs that are no longer running: {named}. "
        f"Nothing will free them without the Dagster daemon: run `{RECOVER_COMMAND}` "
        "to mark them failed and free their slots."
    )
