"""The one connector resource every asset, check, schedule and sensor uses.

Each field maps to a variable of the configuration contract (``tiktok_etl.settings``). The
Definitions object passes ``dg.EnvVar(...)`` for the variables set in the environment, so
secrets stay environment-backed in the Dagster UI; unset fields fall back to the contract's
defaults (for example the embedded PostgreSQL under ``TIKTOK_ETL_HOME``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import dagster as dg
from pydantic import Field, PrivateAttr

from tiktok_etl.runtime import Runtime, Services, open_runtime
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.settings import Settings

# resource field -> environment variable of the configuration contract
FIELD_VARIABLES: Mapping[str, str] = {
    "client_key": "TIKTOK_CLIENT_KEY",
    "client_secret": "TIKTOK_CLIENT_SECRET",
    "business_app_id": "TIKTOK_BUSINESS_APP_ID",
    "business_app_secret": "TIKTOK_BUSINESS_APP_SECRET",
    "api_base_url": "TIKTOK_API_BASE_URL",
    "business_api_base_url": "TIKTOK_BUSINESS_API_BASE_URL",
    "authorize_url": "TIKTOK_AUTHORIZE_URL",
    "database_url": "TIKTOK_ETL_DATABASE_URL",
    "home": "TIKTOK_ETL_HOME",
    "parquet_root": "TIKTOK_ETL_PARQUET_ROOT",
    "token_key": "TIKTOK_ETL_TOKEN_KEY",
    "sandbox": "TIKTOK_ETL_SANDBOX",
    "rate_limit_per_minute": "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE",
    "lookback_days": "TIKTOK_ETL_LOOKBACK_DAYS",
    "comment_workers": "TIKTOK_ETL_COMMENT_WORKERS",
    "max_retry_seconds": "TIKTOK_ETL_MAX_RETRY_SECONDS",
    "refresh_fraction": "TIKTOK_ETL_REFRESH_FRACTION",
}


class TikTokConnectorResource(dg.ConfigurableResource):
    """TikTok API clients for the stored accounts, plus the warehouse they land in.

    Example::

        defs = dg.Definitions(
            assets=[...],
            resources={"tiktok": TikTokConnectorResource(sandbox="1")},
        )
    """

    client_key: str | None = Field(default=None, description="Display API client key.")
    client_secret: str | None = Field(default=None, description="Display API client secret.")
    business_app_id: str | None = Field(default=None, description="Business API app id.")
    business_app_secret: str | None = Field(default=None, description="Business API app secret.")
    api_base_url: str | None = Field(default=None, description="Display API host.")
    business_api_base_url: str | None = Field(default=None, description="Business API root.")
    authorize_url: str | None = Field(default=None, description="OAuth authorize page.")
    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset: the embedded server under `home`."
    )
    home: str | None = Field(default=None, description="Local state directory.")
    parquet_root: str | None = Field(default=None, description="Parquet dataset root.")
    token_key: str | None = Field(default=None, description="Fernet key for tokens at rest.")
    sandbox: str | None = Field(default=None, description="'1' to use the simulated TikTok.")
    rate_limit_per_minute: str | None = Field(
        default=None, description="Requests per endpoint per sliding minute (per process)."
    )
    lookback_days: str | None = Field(
        default=None, description="Days the daily schedule re-materializes."
    )
    comment_workers: str | None = Field(
        default=None, description="Videos whose comments are read concurrently."
    )

    max_retry_seconds: str | None = Field(
        default=None, description="Cap on the total time one request waits across retries."
    )

    refresh_fraction: str | None = Field(
        default=None, description="Share of a token's lifetime left when the sensor refreshes it."
    )

    _runtime: Runtime | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        env = dict(os.environ)
        for field_name, variable in FIELD_VARIABLES.items():
            value = getattr(self, field_name)
            if value is not None:
                env[variable] = value
        return Settings.from_env(env)

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = open_runtime(self.settings())
        return self._runtime

    def services(self) -> Services:
        """What assets, schedules and sensors use: accounts, partition writer and reader,
        mentions store, comment cache, connector."""
        return Services.of(self.runtime)

    @contextmanager
    def connector(self) -> Iterator[Connector]:
        """A connector with its own request counters, for one step."""
        connector = Connector.open(self.runtime)
        try:
            yield connector
        finally:
            connector.close()


def resource_from_environment() -> TikTokConnectorResource:
    """The resource with ``dg.EnvVar`` for every contract variable set when the code loads."""
    values = {
        field_name: dg.EnvVar(variable)
        for field_name, variable in FIELD_VARIABLES.items()
        if os.environ.get(variable)
    }
    return TikTokConnectorResource(**values)
