"""Listening through the Research API: credentials, the metered client, query registration.

Listening is off unless ``TIKTOK_ETL_RESEARCH_CLIENT_KEY`` and ``..._SECRET`` are set, or
``TIKTOK_ETL_SANDBOX=1`` (the sandbox serves the Research API with built-in credentials).
Registering a query writes ``tiktok_listening_queries`` and adds its Dagster ``query``
partition, like accounts do (the sync sensor repairs the partitions if that step fails).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tiktok_etl.api.research import ClientCredentials, ResearchClient
from tiktok_etl.api.research_query import parse_query
from tiktok_etl.runtime import Runtime, open_runtime
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.runtime.registration import sync_partitions
from tiktok_etl.settings import ConfigError, Settings
from tiktok_etl.storage.partition_copies import write_mention_copies
from tiktok_etl.storage.research import (
    ListeningQueryStore,
    PostgresResearchQuota,
    QuotaUsage,
    StoredQuery,
    validate_query_key,
)

log = logging.getLogger(__name__)

# the Dagster dynamic partitions that mirror tiktok_listening_queries
QUERIES_PARTITIONS_NAME = "tiktok_listening_queries"


def research_credentials(settings: Settings) -> tuple[str, str]:
    """The Research app's key and secret, or a ConfigError saying listening is off."""
    key, secret = settings.research_client_key, settings.research_client_secret
    if key and secret:
        return key, secret
    if settings.sandbox and not key and not secret:
        from tiktok_etl.sandbox.research import CLIENT_KEY, CLIENT_SECRET  # sandbox mode only

        return CLIENT_KEY, CLIENT_SECRET
    raise ConfigError(
        "TIKTOK_ETL_RESEARCH_CLIENT_KEY and TIKTOK_ETL_RESEARCH_CLIENT_SECRET must both be set "
        "to listen through the Research API (academic access only), or set TIKTOK_ETL_SANDBOX=1"
    )


def quota_for(runtime: Runtime) -> PostgresResearchQuota:
    settings = runtime.settings
    return PostgresResearchQuota(
        runtime.engine,
        request_limit=settings.research_daily_requests,
        record_limit=settings.research_daily_records,
    )


@dataclass
class Listening:
    """What the listening assets use: queries, quota, the client, and the mention writer."""

    runtime: Runtime
    queries: ListeningQueryStore = field(init=False)
    quota: PostgresResearchQuota = field(init=False)

    def __post_init__(self) -> None:
        self.queries = ListeningQueryStore(self.runtime.engine)
        self.quota = quota_for(self.runtime)

    @property
    def comments_per_video(self) -> int:
        return self.runtime.settings.research_comments_per_video

    @contextmanager
    def client(self) -> Iterator[ResearchClient]:
        """A metered Research client on the connector's transport (and sandbox, if on)."""
        settings = self.runtime.settings
        key, secret = research_credentials(settings)
        connector = Connector.open(self.runtime)
        try:
            base = settings.research_api_base_url
            tokens = ClientCredentials(connector.transport, key, secret, base_url=base)
            yield ResearchClient(connector.transport, tokens, base_url=base, quota=self.quota)
        finally:
            connector.close()

    def write_mentions(self, storage_key: str, day: date, mentions: Any) -> Any:
        settings = self.runtime.settings
        return write_mention_copies(
            self.runtime.engine,
            settings.parquet_root,
            storage_key,
            day,
            mentions,
            source_kind="query",
        )


def register_query(
    *,
    query_key: str,
    query_text: str,
    regions: Sequence[str] = (),
    tenant_id: int = 1,
    source_id: str | None = None,
    since: date | None = None,
    runtime: Runtime | None = None,
) -> StoredQuery:
    """Validate (key and syntax) and store a listening query; add its partition."""
    validate_query_key(query_key)
    parsed = parse_query(query_text, regions)
    runtime = runtime or open_runtime()
    stored = ListeningQueryStore(runtime.engine).add(
        StoredQuery(
            query_key=query_key,
            query_text=query_text.strip(),
            regions=parsed.regions,
            tenant_id=tenant_id,
            source_id=source_id,
            since=since,
        )
    )
    sync_partitions(runtime, QUERIES_PARTITIONS_NAME, add=[query_key])
    return stored


def remove_query(query_key: str, runtime: Runtime | None = None) -> None:
    runtime = runtime or open_runtime()
    ListeningQueryStore(runtime.engine).remove(query_key)
    sync_partitions(runtime, QUERIES_PARTITIONS_NAME, delete=[query_key])


def quota_usage(runtime: Runtime | None = None) -> QuotaUsage:
    return quota_for(runtime or open_runtime()).usage()
