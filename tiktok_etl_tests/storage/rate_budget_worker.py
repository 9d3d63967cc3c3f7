"""Workers sharing one rate budget (threads of the test process or of a spawned process).

Kept free of Dagster and test fixtures so a spawned process starts quickly.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import sqlalchemy as sa

from tiktok_etl.api.ratelimit import RateLimiter
from tiktok_etl.storage.db import make_engine
from tiktok_etl.storage.rate_budget import PostgresRateBudget

ENDPOINT = "/v2/user/info/"
APP = "display:sandbox:race"


def budget(engine: sa.Engine, limit: int, window: float) -> PostgresRateBudget:
    return PostgresRateBudget(engine, app=APP, default_limit=limit, window_seconds=window)


def send(limiter: RateLimiter, base_url: str, threads: int, per_thread: int) -> Counter[int]:
    """`threads` threads each send `per_thread` requests through `limiter`; status counts."""

    def one_thread() -> Counter[int]:
        statuses: Counter[int] = Counter()
        with httpx.Client(base_url=base_url, timeout=30) as client:
            for _ in range(per_thread):
                with limiter.acquire(ENDPOINT, max_wait=60):
                    statuses[client.get(ENDPOINT).status_code] += 1
        return statuses

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(one_thread) for _ in range(threads)]
        return sum((future.result() for future in futures), Counter())


def process_main(
    database_url: str,
    base_url: str,
    limit: int,
    window: float,
    threads: int,
    per_thread: int,
    barrier: Any,
    results: Any,
) -> None:
    try:
        engine = make_engine(database_url)
        limiter = budget(engine, limit, window)
        barrier.wait(timeout=60)
        results.put(dict(send(limiter, base_url, threads, per_thread)))
    except BaseException as exc:  # report, never hang the test
        results.put({"error": f"{type(exc).__name__}: {exc}"})


def hold_and_crash(database_url: str, lease: float, window: float, results: Any) -> None:
    """Take the only slot and die without releasing it."""
    import os

    engine = make_engine(database_url)
    limiter = PostgresRateBudget(
        engine, app=APP, default_limit=1, window_seconds=window, lease_seconds=lease
    )
    limiter.acquire(ENDPOINT)
    results.put("holding")
    results.close()
    results.join_thread()  # the message is out before the process dies
    os._exit(1)
