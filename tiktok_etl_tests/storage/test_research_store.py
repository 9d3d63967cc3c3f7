"""The listening queries table and the daily Research quota shared through PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from tiktok_etl.api.errors import ResearchQuotaExhausted
from tiktok_etl.storage.errors import AccountExists, AccountNotFound, InvalidAccountKey
from tiktok_etl.storage.research import (
    ListeningQueryStore,
    PostgresResearchQuota,
    StoredQuery,
)

NOW = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)


def quota(engine: sa.Engine, requests: int = 5, records: int = 100) -> PostgresResearchQuota:
    return PostgresResearchQuota(
        engine, request_limit=requests, record_limit=records, now=lambda: NOW
    )


def test_queries_are_added_listed_and_removed(engine: sa.Engine) -> None:
    store = ListeningQueryStore(engine)
    added = store.add(
        StoredQuery("acme", "#acme OR acme", regions=("US",), tenant_id=7, since=date(2026, 11, 1))
    )
    assert added.created_at is not None
    assert store.get("acme").regions == ("US",)
    assert store.get("acme").storage_key == "query.acme"
    assert [q.query_key for q in store.list()] == ["acme"]
    with pytest.raises(AccountExists, match="already exists"):
        store.add(StoredQuery("acme", "other"))
    store.remove("acme")
    assert store.list() == []
    with pytest.raises(AccountNotFound, match="no listening query 'acme'"):
        store.remove("acme")


def test_a_query_key_has_the_account_key_format(engine: sa.Engine) -> None:
    with pytest.raises(InvalidAccountKey, match="invalid query key"):
        ListeningQueryStore(engine).add(StoredQuery("Acme Brand", "acme"))


def test_requests_and_records_add_up_and_the_request_limit_stops_the_next_one(
    engine: sa.Engine,
) -> None:
    guard = quota(engine, requests=3)
    for records in (10, 20, 30):
        guard.reserve_request("/v2/research/video/query/")
        guard.record("/v2/research/video/query/", records=records)
    usage = guard.usage()
    assert (usage.day, usage.requests, usage.records) == (date(2026, 11, 10), 3, 60)
    assert usage.exhausted
    with pytest.raises(
        ResearchQuotaExhausted, match=r"3/3 requests.*resets at 2026-11-11 00:00 UTC"
    ):
        guard.reserve_request("/v2/research/video/query/")
    assert guard.usage().requests == 3  # a refused reservation takes nothing


def test_the_record_limit_stops_the_next_request(engine: sa.Engine) -> None:
    guard = quota(engine, requests=100, records=50)
    guard.reserve_request("q")
    guard.record("q", records=50)
    with pytest.raises(ResearchQuotaExhausted, match="50/50 records"):
        guard.reserve_request("q")


def test_tiktoks_refusal_gives_the_reservation_back_and_closes_the_day(
    engine: sa.Engine,
) -> None:
    guard = quota(engine)
    guard.reserve_request("q")
    guard.refused("q")
    usage = guard.usage()
    assert (usage.requests, usage.refused_by_tiktok, usage.exhausted) == (0, True, True)
    with pytest.raises(ResearchQuotaExhausted):
        guard.reserve_request("q")


def test_concurrent_workers_never_reserve_past_the_limit(engine: sa.Engine) -> None:
    guard = quota(engine, requests=25, records=10_000)
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            try:
                guard.reserve_request("q")
            except ResearchQuotaExhausted:
                continue
            with lock:
                granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 25
    assert guard.usage().requests == 25


def test_each_utc_day_has_its_own_budget(engine: sa.Engine) -> None:
    quota(engine, requests=1).reserve_request("q")
    tomorrow = PostgresResearchQuota(
        engine, request_limit=1, record_limit=10,
        now=lambda: datetime(2026, 11, 11, 0, 0, 1, tzinfo=UTC),
    )  # fmt: skip
    tomorrow.reserve_request("q")
    assert tomorrow.usage().requests == 1
