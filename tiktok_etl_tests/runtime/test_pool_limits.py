"""Runs starting at once on a fresh instance all get the `tiktok_api` pool, none fails on it.

The first step of each run that finds no limit for its pool creates the default one
(``concurrency: pools: default_limit`` in dagster.yaml). Runs starting together race to
insert that row: on PostgreSQL the loser's transaction used to abort
(``UniqueViolation`` on ``concurrency_limits_concurrency_key_key``) and the run failed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import dagster as dg

from tiktok_etl.runtime.run_recovery import POOL

DEFAULT_LIMIT = 4  # dagster.yaml: concurrency.pools.default_limit


def test_the_run_that_loses_the_race_to_create_the_pool_limit_still_gets_it(
    instance: dg.DagsterInstance,
) -> None:
    storage = instance.event_log_storage
    assert POOL not in storage.get_concurrency_keys()  # a fresh instance
    # both runs saw no limit; the winner creates it, then the loser tries to
    assert storage.initialize_concurrency_limit_to_default(POOL)
    assert storage.initialize_concurrency_limit_to_default(POOL)
    info = storage.get_concurrency_info(POOL)
    assert info.slot_count == DEFAULT_LIMIT
    assert info.limit == DEFAULT_LIMIT


def test_many_runs_creating_the_pool_at_once_all_succeed_with_one_set_of_slots(
    instance: dg.DagsterInstance,
) -> None:
    storage = instance.event_log_storage
    workers = 6
    barrier = threading.Barrier(workers)

    def start_a_run() -> bool:
        barrier.wait(timeout=60)
        return storage.initialize_concurrency_limit_to_default(POOL)

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda _: start_a_run(), range(workers)))
    assert results == [True] * workers
    assert storage.get_concurrency_info(POOL).slot_count == DEFAULT_LIMIT


def test_a_limit_the_operator_set_meanwhile_is_kept(instance: dg.DagsterInstance) -> None:
    storage = instance.event_log_storage
    # `dagster instance concurrency set tiktok_api 2` lands between a run's check and its call
    storage.set_concurrency_slots(POOL, 2)
    assert storage.initialize_concurrency_limit_to_default(POOL)
    info = storage.get_concurrency_info(POOL)
    assert (info.limit, info.slot_count) == (2, 2)
