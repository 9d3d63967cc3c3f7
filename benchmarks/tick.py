"""Tick benchmark: what one 30-minute tick of N accounts costs through real Dagster runs.

The same tick (today's partition of N accounts; half Display, half Business) is run two
ways against one sandbox served from its own process, each on a fresh database and Dagster
instance (PostgreSQL storage, as deployed):

- ``batch``: what ``tiktok_today_schedule`` now requests, ``tiktok_batch`` runs of
  ``TIKTOK_ETL_BATCH_SIZE`` accounts (one step that loops over the partitions);
- ``per_account``: what it requested before, one ``tiktok_ingest`` run per account-day
  (four asset steps, each in its own process under the multiprocess executor).

Every run starts in a fresh Python process that loads the code location and executes the
run (``dagster.execute_job``), as a run worker launched by the ``DefaultRunLauncher`` does.
Runs are executed one after another, so the wall time is the sum of the runs; the CPU time
is every run process and its step processes (``RUSAGE_CHILDREN``), not the sandbox's or
PostgreSQL's. After each mode the instance is read back: every partition must have one
materialization per asset, or the mode counts as failed.

    .venv/bin/python benchmarks/tick.py                  # N = 10 and 50
    .venv/bin/python benchmarks/tick.py --accounts 4     # a quick look

One-run-per-account is measured up to ``--baseline-up-to`` accounts (default 10): its runs
are independent, so its cost per partition does not depend on N, and at N = 50 it alone
takes about half an hour of both cores. Pass ``--baseline-up-to 50`` to measure it there too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import create_database, machine_info, print_table, private_postgres, save_results
from cryptography.fernet import Fernet
from ingest import START, IngestConfig, Sandbox, bench_accounts, sandbox_process

ASSETS = ("tiktok_users", "tiktok_videos", "tiktok_comments", "sl_mentions")
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
MODES = ("per_account", "batch")


@dataclass
class ModeResult:
    mode: str
    accounts: int
    runs: int
    runs_failed: int
    partitions_landed: int
    wall_seconds: float
    cpu_seconds: float

    @property
    def wall_per_partition(self) -> float:
        return self.wall_seconds / self.accounts

    @property
    def cpu_per_partition(self) -> float:
        return self.cpu_seconds / self.accounts


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def project_env(pg_url: str, sandbox: Sandbox, home: Path) -> dict[str, str]:
    return {
        "TIKTOK_ETL_DATABASE_URL": pg_url,
        "TIKTOK_ETL_TOKEN_KEY": Fernet.generate_key().decode(),
        "TIKTOK_ETL_HOME": str(home),
        "TIKTOK_ETL_PARQUET_ROOT": str(home / "parquet"),
        "DAGSTER_HOME": str(home / "dagster"),
        "TIKTOK_API_BASE_URL": sandbox.base_url,
        "TIKTOK_BUSINESS_API_BASE_URL": sandbox.business_base_url,
        "TIKTOK_CLIENT_KEY": "bench-client-key",
        "TIKTOK_CLIENT_SECRET": "bench-client-secret",
        "TIKTOK_BUSINESS_APP_ID": "bench-app-id",
        "TIKTOK_BUSINESS_APP_SECRET": "bench-app-secret",
        "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE": "100000",
    }


def _prepare(env: dict[str, str], sandbox: Sandbox, config: IngestConfig) -> list[dict[str, Any]]:
    """Register the accounts as `accounts add` does; the tick's run requests, serialized."""
    import dagster as dg

    from tiktok_etl.auth.model import TokenSet
    from tiktok_etl.defs.resources import resource_from_environment
    from tiktok_etl.defs.schedules import tiktok_today_schedule
    from tiktok_etl.runtime import open_runtime
    from tiktok_etl.runtime.registration import register_account

    os.environ.update(env)
    runtime = open_runtime()
    runtime.export_env()
    for account in bench_accounts(config):
        body = sandbox.issue_tokens(account.open_id, account.api)
        tokens = TokenSet.from_response(body, datetime.now(UTC))
        register_account(
            account_key=account.account_key, api=account.api, tokens=tokens, runtime=runtime
        )
    with (
        dg.DagsterInstance.get() as instance,
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=START,
            resources={"tiktok": resource_from_environment()},
        ) as context,
    ):
        requests = list(tiktok_today_schedule(context))
    return [{"run_config": r.run_config, "tags": dict(r.tags)} for r in requests]


def _payloads(mode: str, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if mode == "batch":
        return [{"job": "tiktok_batch", **r} for r in requests]
    from tiktok_etl.defs.batch import OP_NAME
    from tiktok_etl.defs.partitions import account_day_partitions

    out = []
    for request in requests:
        for key in request["run_config"]["ops"][OP_NAME]["config"]["partitions"]:
            tags = dict(account_day_partitions.get_tags_for_partition_key(key))
            out.append({"job": "tiktok_ingest", "run_config": {}, "tags": tags})
    return out


def _landed(partitions: list[str]) -> int:
    """Partitions with a materialization of every asset in the instance."""
    import dagster as dg

    landed = 0
    with dg.DagsterInstance.get() as instance:
        for key in partitions:
            ok = all(
                instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey(a), asset_partitions=[key]),
                    limit=1,
                ).records
                for a in ASSETS
            )
            landed += ok
    return landed


def run_mode(mode: str, server_url: str, sandbox: Sandbox, config: IngestConfig) -> ModeResult:
    home = Path(tempfile.mkdtemp(prefix=f"tiktok_tick_{mode}_"))
    env = project_env(create_database(server_url, f"tick_{mode}"), sandbox, home)
    saved = dict(os.environ)
    try:
        requests = _prepare(env, sandbox, config)
        payloads = _payloads(mode, requests)
        child_env = dict(os.environ)
        failed = 0
        cpu_before = _children_cpu()
        started = time.perf_counter()
        for payload in payloads:
            proc = subprocess.run(
                [sys.executable, __file__, "--run-one", json.dumps(payload)],
                env=child_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                failed += 1
                print(f"  {mode}: a run failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        wall = time.perf_counter() - started
        cpu = _children_cpu() - cpu_before
        partitions = [f"{a.account_key}|{START.date().isoformat()}" for a in bench_accounts(config)]
        return ModeResult(
            mode=mode,
            accounts=len(partitions),
            runs=len(payloads),
            runs_failed=failed,
            partitions_landed=_landed(partitions),
            wall_seconds=wall,
            cpu_seconds=cpu,
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_one(payload: dict[str, Any]) -> int:
    """One run in this fresh process, as a run worker executes it."""
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    repository = ReconstructableRepository.for_module("tiktok_etl.definitions", "defs")
    job = repository.get_reconstructable_job(payload["job"])
    with (
        dg.DagsterInstance.get() as instance,
        dg.execute_job(
            job, instance, run_config={**payload["run_config"], **QUIET}, tags=payload["tags"]
        ) as result,
    ):
        return 0 if result.success else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--history-days", type=int, default=14)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument(
        "--baseline-up-to", type=int, default=10, help="largest N run one run per account"
    )
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    parser.add_argument("--output", help="results JSON (default benchmarks/results/tick.json)")
    args = parser.parse_args()
    if args.run_one:
        sys.exit(run_one(json.loads(args.run_one)))

    results: list[ModeResult] = []
    with private_postgres() as server_url:
        for n in args.accounts:
            config = IngestConfig(
                accounts_per_family=max(1, n // 2),
                days=1,
                history_days=args.history_days,
                latency=args.latency,
                rate_limit=100_000,
            )
            with sandbox_process(config) as sandbox:
                sandbox.configure(args.latency, None)
                for mode in MODES:
                    if mode == "per_account" and n > args.baseline_up_to:
                        continue
                    print(f"N={n} {mode} ...", file=sys.stderr, flush=True)
                    results.append(run_mode(mode, server_url, sandbox, config))
        machine = machine_info(server_url)
    rows = [
        (
            r.accounts,
            r.mode,
            r.runs,
            r.runs_failed,
            f"{r.partitions_landed}/{r.accounts}",
            r.wall_seconds,
            r.wall_per_partition,
            r.cpu_seconds,
            r.cpu_per_partition,
        )
        for r in results
    ]
    print_table(
        "One today tick, runs executed one after another",
        (
            "N",
            "mode",
            "runs",
            "failed",
            "landed",
            "wall s",
            "wall s / partition",
            "CPU s",
            "CPU s / partition",
        ),
        rows,
    )
    path = save_results(
        "tick",
        {
            "machine": machine,
            "latency": args.latency,
            "history_days": args.history_days,
            "results": [
                {
                    **asdict(r),
                    "wall_per_partition": r.wall_per_partition,
                    "cpu_per_partition": r.cpu_per_partition,
                }
                for r in results
            ],
        },
        args.output,
    )
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
