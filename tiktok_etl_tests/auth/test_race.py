"""Workers hitting expiry together end with one valid pair and no rejected refresh.

Threads of this process and spawned processes refresh one account against a sandbox served
over a real socket with strict rotation: presenting an already rotated refresh token would
be counted as reuse (and fail with invalid_grant).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tiktok_etl.sandbox import SandboxServer

from .helpers import Env, add_account, make_runtime, sandbox_stats
from .race_worker import hit_expiry, process_main

THREADS = 4
PROCESSES = 3
REFRESH_ENDPOINTS = {
    "display": "/v2/oauth/token/",
    "business": "/open_api/v1.3/tt_user/oauth2/refresh_token/",
}


@pytest.mark.parametrize("api", ["display", "business"])
def test_threads_and_processes_refresh_exactly_once(
    serve: Callable[..., SandboxServer], env: Env, api: str
) -> None:
    server = serve(strict_rotation=True)
    variables = env.point_at(server).variables()
    runtime = make_runtime(variables)
    body = server.app.issue_tokens("open-race", api)  # type: ignore[arg-type]
    # stored as issued 25 h ago: every worker finds the 24 h access token expired
    add_account(runtime, "race", body, api=api, issued_at=datetime.now(UTC) - timedelta(hours=25))

    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(THREADS + PROCESSES)
    results: multiprocessing.Queue = spawn.Queue()
    processes = [
        spawn.Process(target=process_main, args=(variables, "race", barrier, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(hit_expiry, variables, "race", barrier) for _ in range(THREADS)]
        outcomes = [future.result(timeout=90) for future in futures]
    try:
        outcomes += [results.get(timeout=90) for _ in processes]
    except queue.Empty:
        pytest.fail("a worker process did not report")
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()

    assert all("error" not in outcome for outcome in outcomes), outcomes
    assert len(outcomes) == THREADS + PROCESSES
    assert sum(outcome["refreshes"] for outcome in outcomes) == 1
    stored = runtime.tokens.load("race")
    assert stored is not None and stored.version == 2
    expected = hashlib.sha256(stored.access_token.encode()).hexdigest()
    assert {outcome["token_sha"] for outcome in outcomes} == {expected}
    assert {outcome["open_id"] for outcome in outcomes} == {"open-race"}
    stats = sandbox_stats(server)
    assert stats["refresh_token_reuse"] == 0
    assert stats["requests"][REFRESH_ENDPOINTS[api]] == 1
    assert runtime.accounts.get("race").status == "active"
