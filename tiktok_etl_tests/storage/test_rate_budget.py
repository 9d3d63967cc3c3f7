"""The app-wide rate budget in PostgreSQL: one sliding window per endpoint for every process."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tiktok_etl.api.clock import ManualClock, SystemClock
from tiktok_etl.api.ratelimit import RateLimiter, Slot, WaitTooLong
from tiktok_etl.auth.store import TokenCipher
from tiktok_etl.runtime import Runtime
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.sandbox import FaultConfig, SandboxServer, build_sandbox
from tiktok_etl.settings import Settings
from tiktok_etl.storage.rate_budget import PostgresRateBudget, app_identity

from . import rate_budget_worker as worker

ENDPOINT = worker.ENDPOINT
PROCESSES = 2
THREADS = 3
PER_THREAD = 8


def test_connectors_of_one_database_share_one_budget(engine: sa.Engine) -> None:
    settings = Settings.from_env(
        {"TIKTOK_ETL_SANDBOX": "1", "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE": "1"}
    )
    runtime = Runtime(
        settings=settings,
        database_url=engine.url.render_as_string(hide_password=False),
        engine=engine,
        cipher=TokenCipher(TokenCipher.generate_key()),
    )
    first, second = Connector.open(runtime), Connector.open(runtime)
    try:
        slot = first.transport.limiter.acquire(ENDPOINT)
        slot.release()
        # the other step's connector sees the request the first one sent
        with pytest.raises(WaitTooLong):
            second.transport.limiter.acquire(ENDPOINT, max_wait=1.0)
    finally:
        first.close()
        second.close()


class ScaledClock:
    """The sandbox's clock running `speed` times faster than real time, from now.

    A sandbox minute is then `60 / speed` real seconds: a budget with that window, on the
    database's real clock, must keep every sandbox minute under the limit.
    """

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._start = datetime.now(UTC)
        self._real_start = time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._real_start) * self.speed)


class GatedClock(SystemClock):
    """Real time, but `sleep` returns only when the test opens the gate."""

    def __init__(self) -> None:
        self.sleeping = threading.Event()
        self.gate = threading.Event()

    def sleep(self, seconds: float) -> None:
        self.sleeping.set()
        self.gate.wait(timeout=30)


def _url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _slots(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT * FROM tiktok_rate_slots ORDER BY slot_id")))


def test_threads_and_processes_stay_within_one_app_wide_limit(engine: sa.Engine) -> None:
    limit, speed = 20, 30.0
    window = 60.0 / speed
    app = build_sandbox(
        clock=ScaledClock(speed), faults=FaultConfig(rate_limit_per_minute=limit, latency=0.02)
    )
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(PROCESSES + 1)
    results: multiprocessing.Queue = spawn.Queue()
    with SandboxServer(app) as server:
        processes = [
            spawn.Process(
                target=worker.process_main,
                args=(
                    _url(engine),
                    server.base_url,
                    limit,
                    window,
                    THREADS,
                    PER_THREAD,
                    barrier,
                    results,
                ),
            )
            for _ in range(PROCESSES)
        ]
        for process in processes:
            process.start()
        try:
            barrier.wait(timeout=60)
            statuses = worker.send(
                worker.budget(engine, limit, window), server.base_url, THREADS, PER_THREAD
            )
            outcomes = [results.get(timeout=60) for _ in processes]
        finally:
            for process in processes:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
        stats = app.stats.snapshot()

    assert all("error" not in outcome for outcome in outcomes), outcomes
    for outcome in outcomes:
        statuses.update(outcome)
    sent = (PROCESSES + 1) * THREADS * PER_THREAD
    assert sum(statuses.values()) == sent
    assert statuses[429] == 0
    assert stats["requests"][worker.ENDPOINT] == sent
    assert stats["rate_limit_violations"] == {}
    assert stats["max_requests_per_minute"][worker.ENDPOINT] <= limit


def test_a_crashed_holders_slot_expires_with_its_lease(engine: sa.Engine) -> None:
    lease, window = 2.0, 1.0
    spawn = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = spawn.Queue()
    holder = spawn.Process(
        target=worker.hold_and_crash, args=(_url(engine), lease, window, results)
    )
    holder.start()
    assert results.get(timeout=60) == "holding"
    holder.join(timeout=30)
    assert holder.exitcode == 1
    (slot,) = _slots(engine)
    assert slot.completed_at is None
    assert slot.lease_ends_at - slot.acquired_at == timedelta(seconds=lease)

    budget = PostgresRateBudget(engine, app=worker.APP, default_limit=1, window_seconds=window)
    # never released: the slot is still in flight, nothing frees before its lease ends
    assert not isinstance(budget.try_acquire(worker.ENDPOINT), Slot)
    # then it counts as completed at its lease end and leaves the window after that
    with budget.acquire(worker.ENDPOINT, max_wait=lease + window + 10) as granted:
        assert granted.waited > 0
    (new,) = _slots(engine)  # the crashed slot left the window
    assert new.slot_id != slot.slot_id
    assert new.acquired_at >= slot.lease_ends_at + timedelta(seconds=window)


def test_the_earlier_waiter_is_served_first(engine: sa.Engine) -> None:
    window = 1.0
    first = PostgresRateBudget(
        engine,
        app=worker.APP,
        default_limit=1,
        window_seconds=window,
        clock=(gated := GatedClock()),
    )
    second = PostgresRateBudget(engine, app=worker.APP, default_limit=1, window_seconds=window)
    first.acquire(worker.ENDPOINT).release()
    granted: list[Slot] = []
    waiter = threading.Thread(target=lambda: granted.append(first.acquire(worker.ENDPOINT)))
    waiter.start()
    try:
        # the first waiter has its ticket and is asleep; the slot leaves the window meanwhile
        assert gated.sleeping.wait(timeout=30)
        _sleep_past_window(engine, window)
        # a later caller finds the slot free but not its turn
        assert not isinstance(second.try_acquire(worker.ENDPOINT), Slot)
        with pytest.raises(WaitTooLong):
            second.acquire(worker.ENDPOINT, max_wait=0)
    finally:
        gated.gate.set()
        waiter.join(timeout=30)
    assert len(granted) == 1
    # the first waiter's slot is now the one counted; the later caller comes after it
    with pytest.raises(WaitTooLong, match="budget of 1 per 1s is spent"):
        second.acquire(worker.ENDPOINT, max_wait=0)
    granted[0].release()


def _sleep_past_window(engine: sa.Engine, window: float) -> None:
    """Until every completed slot is older than `window` on the database's clock."""
    with engine.connect() as conn:
        newest = conn.execute(sa.text("SELECT max(completed_at) FROM tiktok_rate_slots")).scalar()
        while conn.execute(sa.text("SELECT clock_timestamp()")).scalar() <= newest + timedelta(
            seconds=window
        ):
            time.sleep(0.05)


def test_it_is_a_rate_limiter(engine: sa.Engine) -> None:
    assert isinstance(PostgresRateBudget(engine, app=worker.APP), RateLimiter)


def test_a_slot_counts_while_in_flight_and_for_a_window_after_its_answer(engine: sa.Engine) -> None:
    window = 2.0
    budget = PostgresRateBudget(engine, app=worker.APP, default_limit=1, window_seconds=window)
    slot = budget.acquire(worker.ENDPOINT)
    assert slot.waited == 0 or slot.waited < window
    assert not isinstance(budget.try_acquire(worker.ENDPOINT), Slot)
    # the answer takes longer than a window: admission-time stamping would free it now
    time.sleep(window + 0.5)
    assert not isinstance(budget.try_acquire(worker.ENDPOINT), Slot)
    slot.release()
    slot.release()  # idempotent
    wait = budget.try_acquire(worker.ENDPOINT)
    assert isinstance(wait, float) and 0 < wait <= window
    (row,) = _slots(engine)
    assert row.completed_at is not None


def test_a_wait_beyond_max_wait_raises_without_sleeping(engine: sa.Engine) -> None:
    clock = ManualClock()
    budget = PostgresRateBudget(engine, app=worker.APP, default_limit=2, clock=clock)
    budget.acquire(worker.ENDPOINT).release()
    budget.acquire(worker.ENDPOINT).release()
    with pytest.raises(WaitTooLong) as raised:
        budget.acquire(worker.ENDPOINT, max_wait=5)
    assert clock.sleeps == []
    assert 55 < raised.value.wait <= 60
    assert "budget of 2 per 60s is spent" in raised.value.reason
    # the caller that gave up left no ticket behind to block the others
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tiktok_rate_waiters")).scalar() == 0


def test_endpoints_and_apps_have_separate_budgets(engine: sa.Engine) -> None:
    budget = PostgresRateBudget(engine, app=worker.APP, default_limit=1)
    other_app = PostgresRateBudget(engine, app="display:sandbox:other", default_limit=1)
    budget.acquire(worker.ENDPOINT).release()
    assert isinstance(budget.try_acquire("/v2/video/list/"), Slot)
    assert isinstance(other_app.try_acquire(worker.ENDPOINT), Slot)
    assert not isinstance(budget.try_acquire(worker.ENDPOINT), Slot)


def test_a_pause_asked_of_one_process_holds_every_process(engine: sa.Engine) -> None:
    told = PostgresRateBudget(engine, app=worker.APP)
    other = PostgresRateBudget(engine, app=worker.APP, clock=ManualClock())
    told.penalize(worker.ENDPOINT, 30)
    with pytest.raises(WaitTooLong, match="paused") as raised:
        other.acquire(worker.ENDPOINT, max_wait=10)
    assert 25 < raised.value.wait <= 30
    assert isinstance(other.try_acquire("/v2/video/list/"), Slot)


def test_the_app_identity_names_family_host_and_public_key() -> None:
    settings = Settings.from_env({"TIKTOK_CLIENT_KEY": "aw3k", "TIKTOK_CLIENT_SECRET": "s3cret"})
    app_of = app_identity(settings)
    assert app_of("/v2/video/list/") == "display:open.tiktokapis.com:aw3k"
    assert app_of("business/comment/list/") == "business:business-api.tiktok.com:-"
    assert "s3cret" not in app_of("/v2/video/list/")
