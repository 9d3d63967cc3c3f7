"""Many run workers, one deployment: runs starting at the same moment share one rate budget.

Four runs of four accounts start together, each in its own process, on a fresh Dagster
instance (no `tiktok_api` pool limit yet), against the served sandbox enforcing one
app-wide limit per endpoint, with `TIKTOK_ETL_RATE_LIMIT_PER_MINUTE` equal to it. The
processes share only PostgreSQL and the environment, as workers on separate machines do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from tiktok_etl.runtime.run_recovery import POOL
from tiktok_etl.sandbox import FaultConfig, SandboxApp, build_sandbox
from tiktok_etl.storage.parquet import read_parquet_partition
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.tables import COMMENTS, USERS, VIDEOS

from .conftest import NOW

DAY = date(2026, 11, 8)
ACCOUNTS = [f"shop{i}" for i in range(4)]
# the app's limit, enforced by the sandbox; small, so the four runs together exceed it
LIMIT = 30
TIMEOUT = 240  # a bound against hanging, never a measure

_RUN_SCRIPT = """
import sys, time
from pathlib import Path
import dagster as dg
from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.resources import resource_from_environment
account, day, ready, go = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
resource = resource_from_environment()
with dg.DagsterInstance.get() as instance:
    ready.touch()
    while not go.exists():  # the barrier: every process is loaded, then all start at once
        time.sleep(0.01)
    result = dg.materialize(
        RAW_ASSETS,
        partition_key=dg.MultiPartitionKey({"account": account, "date": day}),
        instance=instance,
        resources={"tiktok": resource},
        raise_on_error=False,
    )
sys.exit(0 if result.success else 1)
"""


class RealTimeClock:
    """The sandbox's fixed "now", moving forward in real time: its rate window must slide."""

    def __init__(self, start: datetime) -> None:
        self._start, self._real = start, time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._real)


@pytest.fixture
def sandbox_app() -> SandboxApp:
    # small accounts: a few videos and comments a day, so a minute or two covers all four
    app = build_sandbox(
        seed=11,
        clock=RealTimeClock(NOW.astimezone(UTC)),
        history_days=4,
        heavy_video_ratio=0.0,
        comments_per_video=(0, 6),
        reply_ratio=0.1,
        short_page_ratio=0.2,
    )
    app.set_faults(FaultConfig(rate_limit_per_minute=LIMIT))
    return app


def _ids(rows: list[dict[str, Any]], key: str) -> list[str]:
    return sorted(r[key] for r in rows)


def test_four_runs_starting_at_once_on_a_fresh_instance_all_land_exactly_with_no_refusal(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    project_env: dict[str, str],
    tmp_path: Path,
) -> None:
    for key in ACCOUNTS:
        add_account(key, "business", f"{key}-open-id")
    assert POOL not in instance.event_log_storage.get_concurrency_keys()  # a fresh instance
    sandbox_app.stats.reset()

    env = {
        **os.environ,
        "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "TIKTOK_ETL_COMMENT_WORKERS": "2",
    }
    go = tmp_path / "go"
    procs, logs = [], []
    for key in ACCOUNTS:
        ready, log = tmp_path / f"{key}.ready", (tmp_path / f"{key}.log").open("wb")
        args = [sys.executable, "-c", _RUN_SCRIPT, key, DAY.isoformat(), str(ready), str(go)]
        procs.append((key, ready, subprocess.Popen(args, env=env, stdout=log, stderr=log)))
        logs.append(log)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not all(ready.exists() for _, ready, _ in procs):
            assert all(p.poll() is None for _, _, p in procs), "a run process died loading"
            assert time.monotonic() < deadline, "the run processes did not load"
            time.sleep(0.1)
        go.touch()
        codes = {key: proc.wait(timeout=TIMEOUT) for key, _, proc in procs}
    finally:
        for _, _, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    failed = {k: (tmp_path / f"{k}.log").read_text()[-3000:] for k, c in codes.items() if c}
    assert not failed, failed

    runs = instance.get_runs()
    assert len(runs) == len(ACCOUNTS)
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    assert instance.event_log_storage.get_concurrency_info(POOL).slot_count == 4

    stats = sandbox_app.stats.snapshot()
    assert stats["rate_limit_violations"] == {}  # zero requests refused for rate
    busiest = max(stats["requests"], key=stats["requests"].get)
    assert stats["requests"][busiest] > LIMIT  # together the runs needed more than a minute
    assert all(n <= LIMIT for n in stats["max_requests_per_minute"].values()), stats

    world, root = sandbox_app.world, project_env["TIKTOK_ETL_PARQUET_ROOT"]
    for key in ACCOUNTS:
        open_id = f"{key}-open-id"
        videos = read_partition(engine, VIDEOS, key, DAY)
        comments = read_partition(engine, COMMENTS, key, DAY)
        assert _ids(videos, "video_id") == sorted(
            v["item_id"] for v in world.business_videos(open_id, DAY)
        )
        assert _ids(comments, "comment_id") == sorted(
            c["comment_id"] for c in world.comments(open_id, DAY)
        )
        assert len(read_partition(engine, USERS, key, DAY)) == 1
        for spec, id_key, rows in (
            (VIDEOS, "video_id", videos),
            (COMMENTS, "comment_id", comments),
        ):
            assert _ids(read_parquet_partition(root, spec, key, DAY), id_key) == _ids(rows, id_key)
