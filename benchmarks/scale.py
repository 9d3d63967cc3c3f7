"""Scale benchmark: one today tick of N accounts through real Dagster runs, in parallel.

For each N (half Display, half Business accounts; a small world: ``--history-days`` of
videos, default 1) and each injected latency, on a fresh database and Dagster instance
(PostgreSQL storage, as deployed):

1. the accounts are registered as ``accounts add`` stores them (accounts table, encrypted
   tokens the sandbox issued, the ``account`` dynamic partitions), and the ``tiktok_api``
   pool's limit is set up front, as a deployment does before its first run;
2. the real ``tiktok_today_schedule`` is evaluated against the accounts table (its tick
   time is the sandbox's frozen "now"), giving ``tiktok_batch`` RunRequests of
   ``TIKTOK_ETL_BATCH_SIZE`` accounts;
3. every RunRequest is executed as a real run (``dagster.execute_job`` in a fresh Python
   process, as a run worker does; ``benchmarks/tick.py --run-one``), up to the instance's
   ``max_concurrent_runs`` (4 in ``dagster.yaml``) at once, the next starting as one ends;
4. the instance is read back: every partition must have a materialization of each asset.

The sandbox is served over real sockets from its own process (``SandboxServer``) with
``FaultConfig(latency=..., rate_limit_per_minute=600)``: one app-wide sliding-minute limit
per endpoint, which every run and step shares, equal to the client's
``TIKTOK_ETL_RATE_LIMIT_PER_MINUTE`` (600, the default). Its stats give the requests
received, those refused for rate and the busiest sliding minute per endpoint. The minimum
is computed from the sandbox world as ``benchmarks/ingest.py`` does (each partition on a
cold comment cache: a fresh database).

CPU is every run process and its children (``wait4`` of each run), not the benchmark's own
process (registration, tick evaluation), the sandbox's or PostgreSQL's. The baseline, in
the same invocation: the same tick as one ``tiktok_ingest`` run per account (what the
schedule launched before batching), on the same launcher.

    .venv/bin/python benchmarks/scale.py --quick    # N = 10, no latency; < 2 minutes
    .venv/bin/python benchmarks/scale.py            # N = 10, 100, 1000 x 0 / 50 ms
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import create_database, machine_info, print_table, private_postgres, save_results
from ingest import (
    START,
    IngestConfig,
    Sandbox,
    _server_by_endpoint,
    _unix,
    bench_accounts,
    build_app,
    minimum_requests,
    sandbox_process,
)
from tick import _landed, _payloads, project_env

TICK = Path(__file__).resolve().parent / "tick.py"
RATE_LIMIT = 600  # TIKTOK_ETL_RATE_LIMIT_PER_MINUTE's default, and the sandbox's app limit
TICK_SECONDS = 30 * 60  # the today schedule's interval
PROGRESS_EVERY = 30.0


@dataclass
class CaseResult:
    accounts: int
    mode: str  # "batch" (the schedule's runs) or "per_account" (the baseline)
    latency: float
    runs: int = 0
    runs_failed: int = 0
    max_concurrent_runs: int = 0
    partitions_landed: int = 0
    tick_evaluation_seconds: float = 0.0
    wall_seconds: float = 0.0  # first run launched .. last run ended
    cpu_seconds: float = 0.0
    run_cpu_seconds: list[float] = field(default_factory=list)
    run_wall_seconds: list[float] = field(default_factory=list)
    requests: int = 0  # received by the sandbox (refused ones included)
    minimum_requests: int = 0
    requests_by_endpoint: dict[str, int] = field(default_factory=dict)
    minimum_by_endpoint: dict[str, int] = field(default_factory=dict)
    refused_for_rate: int = 0
    busiest_minute: dict[str, int] = field(default_factory=dict)
    rate_limit: int = RATE_LIMIT
    progress: list[dict[str, float]] = field(default_factory=list)
    load_average_before_after: list[float] = field(default_factory=list)

    @property
    def wall_per_partition(self) -> float:
        return self.wall_seconds / self.accounts

    @property
    def cpu_per_partition(self) -> float:
        return self.cpu_seconds / self.accounts

    @property
    def busiest_endpoint_minute(self) -> int:
        return max(self.busiest_minute.values(), default=0)

    def summary(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "wall_per_partition": self.wall_per_partition,
            "cpu_per_partition": self.cpu_per_partition,
            "requests_vs_minimum": self.requests / self.minimum_requests
            if self.minimum_requests
            else None,
            "busiest_endpoint_minute": self.busiest_endpoint_minute,
        }


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _register(env: dict[str, str], sandbox: Sandbox, config: IngestConfig) -> int:
    """Accounts and tokens as `accounts add` stores them (the partitions in one call), the
    `tiktok_api` pool's limit set before any run; returns the instance's run limit."""
    import dagster as dg

    from tiktok_etl.auth.model import TokenSet
    from tiktok_etl.defs.assets import POOL
    from tiktok_etl.defs.partitions import ACCOUNTS_PARTITIONS_NAME
    from tiktok_etl.runtime import open_runtime

    os.environ.update(env)
    runtime = open_runtime()
    runtime.export_env()
    accounts = bench_accounts(config)
    for account in accounts:
        body = sandbox.issue_tokens(account.open_id, account.api)
        runtime.accounts.add(account)
        runtime.tokens.save(account.account_key, TokenSet.from_response(body, datetime.now(UTC)))
    runtime.engine.dispose()
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITIONS_NAME, [a.account_key for a in accounts])
        config_ = instance.get_concurrency_config()
        default_limit = config_.pool_config.default_pool_limit or 1
        # `dagster instance concurrency set tiktok_api N`: runs starting at once on a fresh
        # instance would otherwise race to create the pool's row
        instance.event_log_storage.set_concurrency_slots(POOL, default_limit)
        queue = config_.run_queue_config
        return queue.max_concurrent_runs if queue else 1


def _tick_requests() -> list[dict[str, Any]]:
    """The today schedule's RunRequests at the sandbox's "now", serialized."""
    import dagster as dg

    from tiktok_etl.defs.resources import resource_from_environment
    from tiktok_etl.defs.schedules import tiktok_today_schedule

    with (
        dg.DagsterInstance.get() as instance,
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=START,
            resources={"tiktok": resource_from_environment()},
        ) as context,
    ):
        evaluated = tiktok_today_schedule(context)
        assert isinstance(evaluated, Iterator)  # the schedule is a generator
        requests = [r for r in evaluated if isinstance(r, dg.RunRequest)]
    return [{"run_config": r.run_config, "tags": dict(r.tags)} for r in requests]


@dataclass
class _Running:
    pid: int
    started: float
    stderr: Any


def _launch(payload: dict[str, Any], env: dict[str, str], log_dir: Path, n: int) -> _Running:
    stderr = open(log_dir / f"run-{n}.stderr", "w+")  # noqa: SIM115 (closed when reaped)
    pid = os.posix_spawn(
        sys.executable,
        [sys.executable, str(TICK), "--run-one", json.dumps(payload)],
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, stderr.fileno(), 2),
        ],
    )
    return _Running(pid, time.perf_counter(), stderr)


def execute_runs(
    payloads: list[dict[str, Any]],
    env: dict[str, str],
    max_runs: int,
    result: CaseResult,
    on_poll: Callable[[float], None] | None = None,
) -> None:
    """Each payload as a run in its own process, at most `max_runs` at once; reaps each with
    `wait4` for its CPU (its step processes included)."""
    log_dir = Path(tempfile.mkdtemp(prefix="tiktok_scale_runs_"))
    pending = list(enumerate(payloads))
    running: list[_Running] = []
    started = time.perf_counter()
    while pending or running:
        while pending and len(running) < max_runs:
            n, payload = pending.pop(0)
            running.append(_launch(payload, env, log_dir, n))
        for run in list(running):
            pid, status, usage = os.wait4(run.pid, os.WNOHANG)
            if pid == 0:
                continue
            running.remove(run)
            result.run_cpu_seconds.append(usage.ru_utime + usage.ru_stime)
            result.run_wall_seconds.append(time.perf_counter() - run.started)
            if os.waitstatus_to_exitcode(status) != 0:
                result.runs_failed += 1
                run.stderr.seek(0)
                _progress(f"  a run failed:\n{run.stderr.read()[-3000:]}")
            run.stderr.close()
        if on_poll is not None:
            on_poll(time.perf_counter() - started)
        time.sleep(0.2)
    result.wall_seconds = time.perf_counter() - started
    result.cpu_seconds = sum(result.run_cpu_seconds)
    result.runs = len(payloads)


class _Progress:
    """Every PROGRESS_EVERY seconds: partitions landed (sl_mentions materialized) and the
    sandbox's requests so far, for partial runs and extrapolation."""

    def __init__(self, sandbox: Sandbox, result: CaseResult) -> None:
        self.sandbox, self.result = sandbox, result
        self.next_at = PROGRESS_EVERY

    def __call__(self, elapsed: float) -> None:
        if elapsed < self.next_at:
            return
        self.next_at += PROGRESS_EVERY
        threading.Thread(target=self._sample, args=(elapsed,), daemon=True).start()

    def _sample(self, elapsed: float) -> None:
        import dagster as dg

        try:
            with dg.DagsterInstance.get() as instance:
                done = len(instance.get_materialized_partitions(dg.AssetKey("sl_mentions")))
            requests = self.sandbox.stats()["requests_total"]
        except Exception as exc:  # progress is a convenience, never a failure
            _progress(f"  progress sample failed: {exc}")
            return
        self.result.progress.append(
            {"seconds": round(elapsed, 1), "partitions": done, "requests": requests}
        )
        _progress(
            f"  {elapsed:6.0f}s: {done}/{self.result.accounts} partitions, {requests} requests"
        )


def run_case(
    mode: str,
    server_url: str,
    sandbox: Sandbox,
    config: IngestConfig,
    batch_size: int | None,
) -> CaseResult:
    accounts = bench_accounts(config)
    result = CaseResult(accounts=len(accounts), mode=mode, latency=config.latency)
    world = build_app(config).world
    minimum = minimum_requests(
        world, accounts, [START.date()], _unix(START), config.comment_workers
    )
    result.minimum_requests = minimum.total
    result.minimum_by_endpoint = dict(minimum.by_endpoint)
    home = Path(tempfile.mkdtemp(prefix=f"tiktok_scale_{mode}_"))
    env = project_env(create_database(server_url, f"scale_{mode}"), sandbox, home)
    env["TIKTOK_ETL_RATE_LIMIT_PER_MINUTE"] = str(config.rate_limit)
    env["TIKTOK_ETL_COMMENT_WORKERS"] = str(config.comment_workers)
    if batch_size is not None:
        env["TIKTOK_ETL_BATCH_SIZE"] = str(batch_size)
    saved = dict(os.environ)
    try:
        result.max_concurrent_runs = _register(env, sandbox, config)
        began = time.perf_counter()
        requests = _tick_requests()
        result.tick_evaluation_seconds = time.perf_counter() - began
        payloads = _payloads(mode, requests)
        sandbox.configure(config.latency, config.rate_limit)  # resets the window and stats
        load_before = os.getloadavg()[0]
        _progress(
            f"N={len(accounts)} {mode} latency={config.latency}: {len(payloads)} runs, "
            f"{result.max_concurrent_runs} at once"
        )
        execute_runs(
            payloads,
            dict(os.environ),
            result.max_concurrent_runs,
            result,
            _Progress(sandbox, result),
        )
        result.load_average_before_after = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        stats = sandbox.stats()
        result.requests = stats["requests_total"]
        result.requests_by_endpoint = _server_by_endpoint(stats["requests"])
        result.refused_for_rate = sum(stats["rate_limit_violations"].values())
        result.busiest_minute = _server_by_endpoint(stats["max_requests_per_minute"])
        keys = [f"{a.account_key}|{START.date().isoformat()}" for a in accounts]
        result.partitions_landed = _landed(keys)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return result


@dataclass(frozen=True)
class Case:
    accounts: int
    latency: float
    mode: str = "batch"


def cases_for(args: argparse.Namespace) -> list[Case]:
    if args.quick:
        return [Case(10, 0.0), Case(2, 0.0, "per_account")]
    cases: list[Case] = []
    for n in args.accounts:
        cases += [Case(n, latency) for latency in args.latencies]
        if n == args.baseline_accounts:
            cases.append(Case(n, 0.0, "per_account"))
    return cases


def _row(r: CaseResult) -> tuple[Any, ...]:
    return (
        r.accounts,
        r.mode,
        int(r.latency * 1000),
        f"{r.runs} ({r.max_concurrent_runs} at once)",
        r.runs_failed,
        f"{r.partitions_landed}/{r.accounts}",
        r.wall_seconds,
        r.wall_per_partition,
        r.cpu_per_partition,
        f"{r.requests:,} / {r.minimum_requests:,}",
        r.refused_for_rate,
        f"{r.busiest_endpoint_minute} / {r.rate_limit}",
    )


HEADER = (
    "N",
    "mode",
    "latency ms",
    "runs",
    "failed",
    "landed",
    "wall s",
    "wall s / partition",
    "CPU s / partition",
    "requests / minimum",
    "refused for rate",
    "busiest minute / limit",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 10 and no latency only")
    parser.add_argument("--accounts", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--latencies", type=float, nargs="+", default=[0.0, 0.05])
    parser.add_argument("--baseline-accounts", type=int, default=10, help="0: no baseline")
    parser.add_argument("--history-days", type=int, default=1, help="days of videos")
    parser.add_argument("--batch-size", type=int, help="TIKTOK_ETL_BATCH_SIZE (default 200)")
    parser.add_argument("--output", help="results JSON (default benchmarks/results/scale.json)")
    args = parser.parse_args()
    cases = cases_for(args)
    command = "benchmarks/scale.py " + " ".join(sys.argv[1:])
    results: list[CaseResult] = []
    started = time.perf_counter()
    with private_postgres() as server_url:
        machine = machine_info(server_url)
        sandbox_n = max(c.accounts for c in cases)
        for n in sorted({c.accounts for c in cases}):
            serve = IngestConfig(
                accounts_per_family=max(1, n // 2),
                days=1,
                history_days=args.history_days,
                latency=0.0,
                rate_limit=RATE_LIMIT,
            )
            # the baseline's accounts are the first of a larger world: one sandbox per N
            # that is measured in batch mode, the smaller baseline served by the next one
            if not any(c.accounts == n and c.mode == "batch" for c in cases) and n < sandbox_n:
                continue
            with sandbox_process(serve) as sandbox:
                for case in [c for c in cases if c.accounts <= n and c not in _done(results)]:
                    config = IngestConfig(
                        accounts_per_family=max(1, case.accounts // 2),
                        days=1,
                        history_days=args.history_days,
                        latency=case.latency,
                        rate_limit=RATE_LIMIT,
                    )
                    result = run_case(case.mode, server_url, sandbox, config, args.batch_size)
                    results.append(result)
                    print_table("done", HEADER, [_row(result)])
                    _save(command, machine, args, results, time.perf_counter() - started)
    print_table(
        f"One today tick through real Dagster runs ({args.history_days}-day world, "
        f"app-wide {RATE_LIMIT}/min per endpoint enforced by the sandbox)",
        HEADER,
        [_row(r) for r in results],
    )
    path = _save(command, machine, args, results, time.perf_counter() - started)
    print(f"\nresults: {path}")


def _done(results: list[CaseResult]) -> list[Case]:
    return [Case(r.accounts, r.latency, r.mode) for r in results]


def _save(
    command: str,
    machine: dict[str, Any],
    args: argparse.Namespace,
    results: list[CaseResult],
    seconds: float,
) -> Path:
    return save_results(
        "scale",
        {
            "command": command.strip(),
            "machine": {**machine, "note": "2 shared cores: other jobs ran at the same time"},
            "history_days": args.history_days,
            "rate_limit_per_minute": RATE_LIMIT,
            "tick_seconds": TICK_SECONDS,
            "benchmark_seconds": round(seconds, 1),
            "results": [r.summary() for r in results],
        },
        args.output,
    )


if __name__ == "__main__":
    main()
