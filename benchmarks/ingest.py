"""Ingest benchmark: the project's real fetch path against the simulated TikTok over HTTP.

The sandbox (`SandboxServer`) runs in its own process on 127.0.0.1 with injected latency
per request and an enforced per-endpoint sliding-minute rate limit; the client is
configured to the same limit. N Display + N Business accounts are registered with tokens
the sandbox issued, and every (account, day) partition is fetched through the project's
own code: `Connector` (one transport, one rate limiter, stored tokens) and the pipeline
functions `fetch_profile`, `fetch_videos` and `fetch_comments` (with the PostgreSQL
comment cache), in the order a backfill runs them. The minimum number of requests is
computed from the sandbox world's truth; see BENCHMARKS.md for every definition.

    .venv/bin/python benchmarks/ingest.py --quick     # < 1 minute, latency-bound
    .venv/bin/python benchmarks/ingest.py             # full: the real 600/min limit binds
"""

from __future__ import annotations

import argparse
import heapq
import math
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

import httpx
from _common import (
    create_database,
    machine_info,
    print_table,
    private_postgres,
    profiled,
    save_results,
)
from cryptography.fernet import Fernet

from tiktok_etl.auth.model import TokenSet
from tiktok_etl.ingest.comments import fetch_comments
from tiktok_etl.ingest.fetched import FetchOutcome
from tiktok_etl.ingest.profile import fetch_profile
from tiktok_etl.ingest.sources import AccountSource
from tiktok_etl.ingest.videos import fetch_videos
from tiktok_etl.ingest.window import DayWindow
from tiktok_etl.runtime import Runtime, open_runtime
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.sandbox import FaultConfig, SandboxApp, SandboxClock, SandboxServer, build_sandbox
from tiktok_etl.sandbox.context import RequestContext
from tiktok_etl.sandbox.records import DAY
from tiktok_etl.sandbox.world import SandboxWorld
from tiktok_etl.settings import Settings
from tiktok_etl.storage.accounts import Account
from tiktok_etl.storage.comment_cache import CommentCache

# the sandbox's and the client's rate window: one minute, fixed in both (not configurable)
WINDOW_SECONDS = 60.0
VIDEO_PAGE = 20  # both families' maximum page of videos (the client asks for it)
COMMENT_PAGE = 30  # the Business API's maximum page of comments and replies (likewise)
BUSINESS_PREFIX = "/open_api/v1.3/"
# the calibration run's client limit: never binding (the sandbox enforces none then)
CALIBRATION_LIMIT = 1_000_000
# the sandbox's "now": its data is frozen there (see RealTimeRateApp)
START = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)

USER_INFO = "/v2/user/info/"
DISPLAY_VIDEOS = "/v2/video/list/"
PROFILE = "business/get/"
BUSINESS_VIDEOS = "business/video/list/"
COMMENTS = "business/comment/list/"
REPLIES = "business/comment/reply/list/"


@dataclass(frozen=True)
class IngestConfig:
    accounts_per_family: int
    days: int
    history_days: int
    latency: float
    rate_limit: int
    comment_workers: int = 8
    seed: int = 7


QUICK = IngestConfig(accounts_per_family=2, days=3, history_days=14, latency=0.05, rate_limit=6000)
FULL = IngestConfig(accounts_per_family=4, days=7, history_days=30, latency=0.05, rate_limit=600)


def world_options(config: IngestConfig) -> dict[str, Any]:
    """`build_sandbox` options shared by the served sandbox and the truth computation.

    Short pages are off: they are TikTok behaviour no client can avoid, and with them the
    minimum number of pages would depend on the order pages are requested in."""
    return {"history_days": config.history_days, "short_page_ratio": 0.0}


class RealTimeRateApp(SandboxApp):
    """The sandbox with its data frozen at `START` but its rate limit on the wall clock.

    `SandboxApp` reads one clock for both; a real-time clock would let new comments appear
    while the benchmark runs (several per half hour across the accounts), a frozen one
    would never slide the rate window. This keeps the served data equal to the truth and
    the enforced window real (a benchmark-only subclass of a private hook: `_gate`)."""

    def _gate(self, ctx: RequestContext, seconds: float) -> httpx.Response | None:
        return super()._gate(ctx, time.monotonic())


def build_app(config: IngestConfig, faults: FaultConfig | None = None) -> SandboxApp:
    sandbox = build_sandbox(config.seed, clock=SandboxClock(START), **world_options(config))
    return RealTimeRateApp(
        sandbox.world,
        sandbox.tokens,
        faults,
        sandbox.clock,
        short_page_ratio=world_options(config)["short_page_ratio"],
    )


# the sandbox server process


def _serve(config: IngestConfig, conn: Connection) -> None:
    app = build_app(config)
    now = _unix(START)
    for account in bench_accounts(config):  # generate every comment now, not while timed
        for video in app.world.iter_videos_desc(account.open_id, now + 1, now):
            app.world.visible_comments(video, now)
    with SandboxServer(app) as server:
        conn.send((server.base_url, server.business_base_url))
        conn.recv()  # serve until the parent says stop


@dataclass(frozen=True)
class Sandbox:
    base_url: str
    business_base_url: str

    def issue_tokens(self, open_id: str, family: str) -> dict[str, Any]:
        body = {"open_id": open_id, "family": family}
        response = httpx.post(f"{self.base_url}/sandbox/tokens/", json=body)
        response.raise_for_status()
        return dict(response.json())

    def configure(self, latency: float, rate_limit: int | None) -> None:
        """Set the injected latency and enforced limit; resets the rate window and stats."""
        faults = {"latency": latency, "rate_limit_per_minute": rate_limit}
        httpx.post(f"{self.base_url}/sandbox/faults/", json=faults).raise_for_status()
        httpx.post(f"{self.base_url}/sandbox/stats/reset/").raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.base_url}/sandbox/stats/")
        response.raise_for_status()
        return dict(response.json())


@contextmanager
def sandbox_process(config: IngestConfig) -> Iterator[Sandbox]:
    """The sandbox served from its own process, like a remote API (no GIL shared)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(config, child), daemon=True)
    process.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the sandbox server did not start within 60 s")
        base_url, business_base_url = parent.recv()
        yield Sandbox(base_url, business_base_url)
    finally:
        parent.send("stop")
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()


# truth: the minimum requests and the bound


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _pages(items: int, page: int) -> int:
    return math.ceil(items / page)


def _until_older(newer_or_in: int, listed: int) -> int:
    """Pages of a newest-first listing up to and including the first item older than the
    window (whose presence proves the window complete), or the whole listing."""
    return min(_pages(newer_or_in + 1, VIDEO_PAGE), max(1, _pages(listed, VIDEO_PAGE)))


@dataclass
class Minimum:
    """The fewest requests that can produce the partitions, and the latency critical path."""

    by_endpoint: Counter[str] = field(default_factory=Counter)
    chain: int = 0  # requests on the critical path, given the pipeline's concurrency
    fifo_chain: int = 0  # the same with video reads started in listing order (as the pool does)
    rows: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_endpoint.values())


def minimum_requests(
    world: SandboxWorld, accounts: list[Account], days: list[date], now: int, workers: int
) -> Minimum:
    """Per partition, in the order `run_pipeline` fetches them (account by account, days
    ascending, one step: one connector and one `AccountSource` per account): see
    BENCHMARKS.md, "Ingest: definitions"."""
    minimum = Minimum()
    for account in accounts:
        videos = list(world.iter_videos_desc(account.open_id, now + 1, now))  # newest first
        read: set[str] = set()
        for day in days:
            start = _unix(DayWindow(day).start)
            end = start + DAY
            in_day = sum(1 for v in videos if start <= v.create_time < end)
            minimum.rows["users"] += 1
            minimum.rows["videos"] += in_day
            if account.api == "display":
                before_end = sum(1 for v in videos if v.create_time < end)
                pages = _until_older(in_day, before_end)
                minimum.by_endpoint[USER_INFO] += 1
                minimum.by_endpoint[DISPLAY_VIDEOS] += pages
                minimum.chain += 1 + pages
                minimum.fifo_chain += 1 + pages
                continue
            newer_or_in = sum(1 for v in videos if v.create_time >= start)
            pages = _until_older(newer_or_in, len(videos))
            # the comment reader's full listing: once per account and step (AccountSource)
            listing = max(1, _pages(len(videos), VIDEO_PAGE)) if day == days[0] else 0
            minimum.by_endpoint[PROFILE] += 1
            minimum.by_endpoint[BUSINESS_VIDEOS] += pages + listing
            reads = []
            for video in videos:
                if video.video_id in read or video.create_time >= end:
                    continue
                if world.comment_count(video, now) == 0:
                    continue
                read.add(video.video_id)
                reads.append(_video_read(world, video, now, minimum.by_endpoint))
            longest = max(reads, default=0)
            minimum.chain += 1 + pages + listing + max(longest, _pages(sum(reads), workers))
            minimum.fifo_chain += 1 + pages + listing + fifo_makespan(reads, workers)
            minimum.rows["comments"] += len(world.comments(account.open_id, day))
    return minimum


def _video_read(world: SandboxWorld, video: Any, now: int, counts: Counter[str]) -> int:
    """Requests of one video's full comment read: its comment pages, then each parent's
    reply pages (sequential in one worker); counted into `counts`."""
    visible = world.visible_comments(video, now)
    top = sum(1 for c in visible if c.parent_comment_id is None)
    replies = Counter(c.parent_comment_id for c in visible if c.parent_comment_id)
    comment_pages = _pages(top, COMMENT_PAGE)
    reply_pages = sum(_pages(n, COMMENT_PAGE) for n in replies.values())
    counts[COMMENTS] += comment_pages
    counts[REPLIES] += reply_pages
    return comment_pages + reply_pages


def fifo_makespan(durations: list[int], workers: int) -> int:
    """When the last of `durations` ends if each starts, in order, on the first free worker
    (a `ThreadPoolExecutor` given tasks in that order)."""
    free = [0] * workers
    for duration in durations:
        heapq.heapreplace(free, free[0] + duration)
    return max(free)


def rate_bound(requests: dict[str, int], limit: int, latency: float) -> float:
    """Sliding window: the n-th request to an endpoint cannot be sent before
    (ceil(n / limit) - 1) windows after its first, and then takes `latency`."""
    return max(
        ((math.ceil(n / limit) - 1) * WINDOW_SECONDS + latency for n in requests.values() if n),
        default=0.0,
    )


# the run


def project_settings(config: IngestConfig, pg_url: str, sandbox: Sandbox, home: str) -> Settings:
    env = {
        "TIKTOK_ETL_DATABASE_URL": pg_url,
        "TIKTOK_ETL_TOKEN_KEY": Fernet.generate_key().decode(),
        "TIKTOK_ETL_HOME": home,
        "TIKTOK_API_BASE_URL": sandbox.base_url,
        "TIKTOK_BUSINESS_API_BASE_URL": sandbox.business_base_url,
        "TIKTOK_CLIENT_KEY": "bench-client-key",
        "TIKTOK_CLIENT_SECRET": "bench-client-secret",
        "TIKTOK_BUSINESS_APP_ID": "bench-app-id",
        "TIKTOK_BUSINESS_APP_SECRET": "bench-app-secret",
        "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE": str(config.rate_limit),
        "TIKTOK_ETL_COMMENT_WORKERS": str(config.comment_workers),
    }
    return Settings.from_env(env)


def bench_accounts(config: IngestConfig) -> list[Account]:
    return [
        Account(account_key=f"bench_{api}_{n}", api=api, open_id=f"bench-{api}-{n:03d}")
        for api in ("display", "business")
        for n in range(config.accounts_per_family)
    ]


def register(runtime: Runtime, sandbox: Sandbox, accounts: list[Account]) -> list[Account]:
    """Store each account and the tokens the sandbox issued, as `accounts add` does."""
    stored = []
    for account in accounts:
        body = sandbox.issue_tokens(account.open_id, account.api)
        tokens = TokenSet.from_response(body, datetime.now(UTC))
        stored.append(runtime.accounts.add(account))
        runtime.tokens.save(account.account_key, tokens)
    return stored


@dataclass
class RunResult:
    wall_seconds: float
    phase_seconds: dict[str, float]
    rows: Counter[str]
    rejects: int
    client: dict[str, Any]
    cpu_seconds: float  # this process's CPU time (all threads) during the run


def run_pipeline(runtime: Runtime, accounts: list[Account], days: list[date]) -> RunResult:
    """Every partition through the project's fetch functions, one connector for the run."""
    cache = CommentCache(runtime.engine)
    workers = runtime.settings.comment_workers
    phases: Counter[str] = Counter()
    rows: Counter[str] = Counter()
    rejects = 0
    connector = Connector.open(runtime)
    cpu_started = time.process_time()
    started = time.perf_counter()
    try:
        for account in accounts:
            source = connector.source(account)
            for day in days:
                for name, outcome, seconds in _fetch_partition(
                    source, DayWindow(day), cache, workers
                ):
                    phases[name] += seconds
                    rows[name] += len(outcome.rows)
                    rejects += len(outcome.rejects)
            _progress(f"  {account.account_key}: {time.perf_counter() - started:.1f}s")
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        client = connector.transport.stats.snapshot()
    finally:
        connector.close()
    return RunResult(wall, dict(phases), rows, rejects, client, cpu)


def _fetch_partition(
    source: AccountSource, window: DayWindow, cache: CommentCache, workers: int
) -> Iterator[tuple[str, FetchOutcome, float]]:
    """The three raw assets' fetches of one partition, in order, each with its duration."""
    now = datetime.now(UTC)
    steps: tuple[tuple[str, Callable[[], FetchOutcome]], ...] = (
        ("users", lambda: fetch_profile(source, window, now)),
        ("videos", lambda: fetch_videos(source, window, now)),
        ("comments", lambda: fetch_comments(source, window, cache, now, workers)),
    )
    for name, step in steps:
        began = time.perf_counter()
        outcome = step()
        yield name, outcome, time.perf_counter() - began


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _server_by_endpoint(counts: dict[str, int]) -> dict[str, int]:
    return {key.removeprefix(BUSINESS_PREFIX): value for key, value in counts.items()}


def summarize(
    config: IngestConfig,
    minimum: Minimum,
    run: RunResult,
    server: dict[str, Any],
    calibration: RunResult,
) -> dict[str, Any]:
    latency_bound = config.latency * minimum.chain
    limit_bound = rate_bound(dict(minimum.by_endpoint), config.rate_limit, config.latency)
    bound = max(latency_bound, limit_bound)
    requests = run.client["requests"]
    by_endpoint = run.client["by_endpoint"]
    busiest = max(by_endpoint, key=by_endpoint.get)
    return {
        "wall_seconds": round(run.wall_seconds, 3),
        "phase_seconds": {k: round(v, 3) for k, v in run.phase_seconds.items()},
        "requests": requests,
        "requests_received_by_server": server["requests_total"],
        "minimum_requests": minimum.total,
        "requests_vs_minimum": round(requests / minimum.total, 4),
        "requests_by_endpoint": by_endpoint,
        "minimum_by_endpoint": dict(minimum.by_endpoint),
        "retries": run.client["retries"],
        "rate_limited_responses": run.client["rate_limited"],
        "server_rate_limit_violations": server["rate_limit_violations"],
        "server_max_requests_per_minute": _server_by_endpoint(server["max_requests_per_minute"]),
        "achieved_requests_per_second": round(requests / run.wall_seconds, 2),
        "busiest_endpoint": busiest,
        "busiest_endpoint_requests_per_second": round(by_endpoint[busiest] / run.wall_seconds, 2),
        "limit_requests_per_second_per_endpoint": round(config.rate_limit / WINDOW_SECONDS, 2),
        "latency_critical_path_requests": minimum.chain,
        "latency_bound_seconds": round(latency_bound, 3),
        "rate_bound_seconds": round(limit_bound, 3),
        "rate_bound_fluid_seconds": round(
            max(n / config.rate_limit * WINDOW_SECONDS for n in minimum.by_endpoint.values()), 3
        ),
        "fifo_latency_critical_path_requests": minimum.fifo_chain,
        "fifo_latency_bound_seconds": round(config.latency * minimum.fifo_chain, 3),
        "zero_latency_wall_seconds": round(calibration.wall_seconds, 3),
        "zero_latency_requests": calibration.client["requests"],
        "bound_seconds": round(bound, 3),
        "bound_kind": "rate" if limit_bound >= latency_bound else "latency",
        "wall_vs_bound": round(run.wall_seconds / bound, 3) if bound else None,
        "client_cpu_seconds": round(run.cpu_seconds, 3),
        "rows": dict(run.rows),
        "expected_rows": dict(minimum.rows),
        "rows_match_truth": +run.rows == +minimum.rows,
        "rejects": run.rejects,
    }


def report(config: IngestConfig, result: dict[str, Any]) -> None:
    rows = [
        (
            endpoint,
            result["requests_by_endpoint"].get(endpoint, 0),
            result["minimum_by_endpoint"].get(endpoint, 0),
            result["server_max_requests_per_minute"].get(endpoint, 0),
        )
        for endpoint in sorted(
            set(result["requests_by_endpoint"]) | set(result["minimum_by_endpoint"])
        )
    ]
    print_table(
        "requests per endpoint",
        ("endpoint", "requests", "minimum", "busiest minute at server"),
        rows,
    )
    r = result
    print_table(
        f"ingest: {config.latency}s latency, {config.rate_limit}/min per endpoint",
        ("figure", "value", "note"),
        [
            ("wall time (s)", r["wall_seconds"], f"phases {r['phase_seconds']}"),
            ("requests / minimum", r["requests_vs_minimum"],
             f"{r['requests']} / {r['minimum_requests']}"),
            ("retries / throttled answers", f"{r['retries']} / {r['rate_limited_responses']}",
             f"server violations {r['server_rate_limit_violations'] or 0}"),
            ("requests/s, all endpoints", r["achieved_requests_per_second"], ""),
            ("requests/s, busiest endpoint", r["busiest_endpoint_requests_per_second"],
             f"{r['busiest_endpoint']}; limit {r['limit_requests_per_second_per_endpoint']}/s"),
            ("latency bound (s)", r["latency_bound_seconds"],
             f"{r['latency_critical_path_requests']} requests on the critical path"),
            ("  same, pool in listing order (s)", r["fifo_latency_bound_seconds"],
             f"{r['fifo_latency_critical_path_requests']} requests"),
            ("rate bound (s)", r["rate_bound_seconds"],
             f"fluid requests/limit: {r['rate_bound_fluid_seconds']}"),
            ("wall / bound", r["wall_vs_bound"], f"{r['bound_kind']}-bound"),
            ("zero-latency wall (s)", r["zero_latency_wall_seconds"],
             "same run, no latency, no limit: processing time"),
            ("client CPU (s)", r["client_cpu_seconds"], "this process, all threads"),
            ("rows match the sandbox truth", "yes" if r["rows_match_truth"] else "NO", ""),
        ],
    )  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small world, < 1 minute")
    parser.add_argument("--accounts", type=int, help="accounts per API family")
    parser.add_argument("--days", type=int, help="partitions (UTC days) per account")
    parser.add_argument("--history-days", type=int, help="days of videos per account")
    parser.add_argument("--latency", type=float, help="seconds added to every request")
    parser.add_argument("--rate-limit", type=int, help="requests per endpoint per minute")
    parser.add_argument("--workers", type=int, help="TIKTOK_ETL_COMMENT_WORKERS")
    parser.add_argument("--output", help="results JSON (default benchmarks/results/...)")
    parser.add_argument("--profile", help="write a cProfile of the fetch run to this file")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> IngestConfig:
    config = QUICK if args.quick else FULL
    overrides = {
        "accounts_per_family": args.accounts,
        "days": args.days,
        "history_days": args.history_days,
        "latency": args.latency,
        "rate_limit": args.rate_limit,
        "comment_workers": args.workers,
    }
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class Environment:
    pg_url: str
    sandbox: Sandbox
    home: str
    accounts: list[Account]
    days: list[date]


def measure(
    env: Environment, config: IngestConfig, profile: str | None = None
) -> tuple[RunResult, dict[str, Any]]:
    """One run on a fresh database (empty comment cache) against the served sandbox set to
    `config`'s latency and limit; returns the run and the sandbox's counters."""
    env.sandbox.configure(config.latency, config.rate_limit)
    db_url = create_database(env.pg_url, "bench_ingest")
    runtime = open_runtime(project_settings(config, db_url, env.sandbox, env.home))
    try:
        stored = register(runtime, env.sandbox, env.accounts)
        with profiled(profile):
            run = run_pipeline(runtime, stored, env.days)
        return run, env.sandbox.stats()
    finally:
        runtime.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = config_from(args)
    accounts = bench_accounts(config)
    world = build_app(config).world  # the same world the server builds: the truth
    days = [START.date() - timedelta(days=n) for n in range(config.days - 1, -1, -1)]
    minimum = minimum_requests(world, accounts, days, _unix(START), config.comment_workers)
    _progress(f"{len(accounts)} accounts x {len(days)} days: minimum {minimum.total} requests")
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="tiktok_etl_bench_home_") as home,
        private_postgres() as pg_url,
        sandbox_process(config) as sandbox,
    ):
        env = Environment(pg_url, sandbox, home, accounts, days)
        _progress("calibration: no latency, no limit")
        calibration, _ = measure(env, replace(config, latency=0.0, rate_limit=CALIBRATION_LIMIT))
        _progress(f"measured run: {config.latency}s latency, {config.rate_limit}/min")
        run, server = measure(env, config, args.profile)
        machine = machine_info(pg_url)
    machine["load_average_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    result = summarize(config, minimum, run, server, calibration)
    report(config, result)
    mode = "quick" if args.quick else "full"
    command = "benchmarks/ingest.py " + " ".join(sys.argv[1:] if argv is None else argv)
    path = save_results(
        f"ingest-{mode}",
        {"command": command.strip(), "machine": machine, "config": asdict(config), **result},
        args.output,
    )
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
