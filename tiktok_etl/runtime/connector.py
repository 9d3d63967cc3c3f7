"""Build API clients for stored accounts: the seam between settings, tokens and the client library.

Everything that decides *which* TikTok to talk to lives here: the real hosts, a configured
double (base URLs from the environment), or the in-process simulated TikTok when
``TIKTOK_ETL_SANDBOX=1`` and no base URL points elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tiktok_etl.api import (
    BusinessClient,
    BusinessOAuth,
    DisplayClient,
    DisplayOAuth,
    RetryPolicy,
    Transport,
)
from tiktok_etl.auth.model import TokenSet
from tiktok_etl.auth.provider import StoredTokenProvider
from tiktok_etl.auth.refresh import make_refresher
from tiktok_etl.ingest.sources import AccountSource
from tiktok_etl.runtime import Runtime
from tiktok_etl.settings import Settings
from tiktok_etl.storage.accounts import Account
from tiktok_etl.storage.rate_budget import PostgresRateBudget

SANDBOX_HISTORY_DAYS = 120


def _sandbox_transport(settings: Settings) -> httpx.BaseTransport | None:
    """The in-process simulated TikTok, when asked for and no base URL points elsewhere."""
    uses_default_hosts = all(
        getattr(settings, host) == Settings.default_of(host)
        for host in ("display_api_base_url", "business_api_base_url")
    )
    if not (settings.sandbox and uses_default_hosts):
        return None
    from tiktok_etl.sandbox import build_sandbox  # imported only in sandbox mode

    # 120 days of history: enough for the demo and a 90-day backfill, small enough that the
    # first read of every video's comment history takes seconds, not minutes
    return build_sandbox(history_days=SANDBOX_HISTORY_DAYS).as_transport()


@dataclass
class Connector:
    """Clients for one process: one transport and the app-wide rate budget, for all accounts."""

    runtime: Runtime
    transport: Transport
    _sources: dict[str, AccountSource] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, runtime: Runtime, http_transport: httpx.BaseTransport | None = None) -> Connector:
        settings = runtime.settings
        # one budget per app for every process sharing the database (TikTok counts per app)
        limiter = PostgresRateBudget.for_settings(runtime.engine, settings)
        retry = RetryPolicy(
            max_total_wait=float(settings.max_retry_seconds),
            base_delay=min(0.5, settings.max_retry_seconds / 8),
            cap_name="TIKTOK_ETL_MAX_RETRY_SECONDS",
        )
        transport = Transport(
            http_transport=http_transport or _sandbox_transport(settings),
            limiter=limiter,
            retry=retry,
        )
        return cls(runtime=runtime, transport=transport)

    def close(self) -> None:
        self.transport.close()

    def oauth(self, api: str) -> DisplayOAuth | BusinessOAuth:
        settings = self.runtime.settings
        key, secret = settings.require_app_credentials(api)
        if api == "display":
            return DisplayOAuth(
                self.transport,
                key,
                secret,
                api_base_url=settings.display_api_base_url,
                authorize_url=settings.authorize_url,
            )
        return BusinessOAuth(
            self.transport,
            key,
            secret,
            api_base_url=settings.business_api_base_url,
            authorize_url=settings.authorize_url,
        )

    def refresher(self, api: str) -> Callable[[str], TokenSet]:
        """Refresh-token -> new pair, timed by the transport's clock."""
        return make_refresher(self.oauth(api), api, self.transport.clock.now)

    def token_provider(self, account: Account) -> StoredTokenProvider:
        return StoredTokenProvider(
            tokens=self.runtime.tokens,
            accounts=self.runtime.accounts,
            account_key=account.account_key,
            refresher=self.refresher(account.api),
        )

    def source(self, account: Account) -> AccountSource:
        """The account's clients, shared by every partition this connector serves."""
        if account.account_key not in self._sources:
            self._sources[account.account_key] = self._new_source(account)
        return self._sources[account.account_key]

    def _new_source(self, account: Account) -> AccountSource:
        settings = self.runtime.settings
        tokens = self.token_provider(account)
        if account.api == "display":
            stored = self.runtime.tokens.load(account.account_key)
            scopes = tuple(stored.scopes) if stored else ()
            client = DisplayClient(
                self.transport, tokens, base_url=settings.display_api_base_url, scopes=scopes
            )
            return AccountSource(account=account, display=client)
        business = BusinessClient(
            self.transport,
            tokens,
            account.open_id,
            base_url=settings.business_api_base_url,
        )
        return AccountSource(account=account, business=business)
