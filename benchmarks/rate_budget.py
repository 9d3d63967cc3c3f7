"""What the app-wide rate budget costs per request, against the in-memory limiter.

Run: ``.venv/bin/python benchmarks/rate_budget.py [--requests 600] [--threads 8]``

Both limiters do acquire + release with a budget that never makes them wait, so the figure
is pure bookkeeping: milliseconds per acquire+release (median and p95) and round trips to
PostgreSQL (statements sent by the budget's engine, counted with SQLAlchemy events; its
pool has no pre-ping, so a checkout sends nothing). The database is a private embedded
server on this machine, default durability settings (``fsync`` on).

- ``one thread``: ``--requests`` acquire+release per endpoint on 3 endpoints, limit 600 per
  60 s: the last acquire of each endpoint counts 599 slots, the most a real budget holds.
- ``N threads``: ``--threads`` threads hammering one endpoint (admissions to an endpoint are
  serialised: this is the lock's cost), limit high enough never to wait.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from _common import (
    create_database,
    machine_info,
    print_table,
    private_postgres,
    save_results,
)

from tiktok_etl.api.ratelimit import RateLimiter, SlidingWindowLimiter
from tiktok_etl.storage.db import make_engine
from tiktok_etl.storage.migrations import migrate
from tiktok_etl.storage.rate_budget import PostgresRateBudget

ENDPOINTS = ("/v2/user/info/", "/v2/video/list/", "/v2/video/query/")


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1000,
    }


def _timed_cycles(limiter: RateLimiter, endpoint: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        limiter.acquire(endpoint).release()
        samples.append(time.perf_counter() - start)
    return samples


def one_thread(make: Callable[[], RateLimiter], requests: int) -> dict[str, Any]:
    limiter = make()
    samples: list[float] = []
    for endpoint in ENDPOINTS:
        samples += _timed_cycles(limiter, endpoint, requests)
    return {"cycles": len(samples), **_percentiles(samples)}


def many_threads(make: Callable[[], RateLimiter], threads: int, requests: int) -> dict[str, Any]:
    limiter = make()
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        futures = [
            pool.submit(_timed_cycles, limiter, "/v2/comment/list/", requests)
            for _ in range(threads)
        ]
        samples = [s for future in futures for s in future.result()]
    elapsed = time.perf_counter() - start
    return {
        "cycles": len(samples),
        "per_second": len(samples) / elapsed,
        **_percentiles(samples),
    }


class StatementCounter:
    """Statements the budget's engine sends (each one round trip, its own transaction)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.statements = 0
        self.connects = 0
        self._lock = threading.Lock()
        sa.event.listen(engine, "before_cursor_execute", self._on_statement)
        sa.event.listen(engine, "connect", self._on_connect)

    def _on_statement(self, *args: object) -> None:
        with self._lock:
            self.statements += 1

    def _on_connect(self, *args: object) -> None:
        with self._lock:
            self.connects += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="cycles per endpoint")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--output", help="results JSON path (default benchmarks/results/)")
    args = parser.parse_args()

    with private_postgres() as server_url:
        url = create_database(server_url, "rate_budget")
        engine = make_engine(url)
        migrate(engine)
        app = "display:bench:app"

        def in_memory() -> RateLimiter:
            return SlidingWindowLimiter(default_limit=600)

        def in_postgres() -> RateLimiter:
            return PostgresRateBudget(engine, app=app, default_limit=600)

        def in_memory_unbounded() -> RateLimiter:
            return SlidingWindowLimiter(default_limit=10**9, window_seconds=1.0)

        def in_postgres_unbounded() -> RateLimiter:
            return PostgresRateBudget(engine, app=app, default_limit=10**9, window_seconds=1.0)

        probe = PostgresRateBudget(engine, app=app)
        counter = StatementCounter(probe._engine)
        probe.acquire("/warm-up/").release()  # the pool's first connection
        before = counter.statements
        results: dict[str, Any] = {
            "in_memory": {"one_thread": one_thread(in_memory, args.requests)},
            "postgres": {"one_thread": one_thread(in_postgres, args.requests)},
        }
        single_statements = counter.statements - before
        results["in_memory"]["threads"] = many_threads(
            in_memory_unbounded, args.threads, args.requests
        )
        before = counter.statements
        results["postgres"]["threads"] = many_threads(
            in_postgres_unbounded, args.threads, args.requests
        )
        threaded_statements = counter.statements - before
        cycles = results["postgres"]["one_thread"]["cycles"]
        results["postgres"]["round_trips_per_cycle"] = single_statements / cycles
        results["postgres"]["round_trips_per_cycle_threads"] = (
            threaded_statements / results["postgres"]["threads"]["cycles"]
        )
        results["postgres"]["connections_opened"] = counter.connects
        payload = {"machine": machine_info(url), "args": vars(args), "results": results}
        engine.dispose()

    rows = []
    for name, result in results.items():
        rows.append(
            (
                name,
                f"{result['one_thread']['median_ms']:.3f}",
                f"{result['one_thread']['p95_ms']:.3f}",
                f"{result['threads']['median_ms']:.3f}",
                f"{result['threads']['p95_ms']:.3f}",
                f"{result['threads']['per_second']:.0f}",
                f"{result.get('round_trips_per_cycle', 0):.2f}",
            )
        )
    print_table(
        "acquire + release (ms)",
        (
            "limiter",
            "1 thread median",
            "1 thread p95",
            f"{args.threads} threads median",
            f"{args.threads} threads p95",
            f"{args.threads} threads cycles/s",
            "round trips/cycle",
        ),
        rows,
    )
    print(f"results: {save_results('rate-budget', payload, args.output)}")


if __name__ == "__main__":
    main()
