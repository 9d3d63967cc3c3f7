"""Dagster instance storage in the project's PostgreSQL, found the same way as the data.

``dagster.yaml`` names this class instead of a fixed ``postgres_url`` so that plain
``dagster dev -w workspace.yaml`` or ``dagster asset materialize`` work with no extra
environment: the URL is ``TIKTOK_ETL_DAGSTER_PG_URL`` if set, else
``TIKTOK_ETL_DATABASE_URL``, else the embedded server under ``TIKTOK_ETL_HOME`` (started if
needed). dagster-postgres needs psycopg2, so the URL is rewritten to
``postgresql+psycopg2://`` (SQLAlchemy 2.1 would otherwise pick psycopg 3, which breaks
dagster-postgres's ``NOTIFY``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage

from tiktok_etl.settings import DAGSTER_URL_VAR, Settings
from tiktok_etl.storage.db import to_psycopg2_url


def resolve_instance_url(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    explicit = env.get(DAGSTER_URL_VAR, "").strip()
    if explicit:
        return to_psycopg2_url(explicit)
    from tiktok_etl.runtime import database_url_for  # avoids a cycle at import

    return to_psycopg2_url(database_url_for(Settings.from_env(env)))


class TikTokInstanceStorage(DagsterPostgresStorage):
    """Named in ``dagster.yaml``: ``storage: custom: {module:
    tiktok_etl.runtime.instance_storage, class: TikTokInstanceStorage}``."""

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> TikTokInstanceStorage:
        return cls(postgres_url=resolve_instance_url(), inst_data=inst_data)

    # the parent describes its parts as dagster_postgres classes configured by *our* (empty)
    # config, which could not be loaded; nothing in Dagster needs them
    @property
    def event_storage_data(self) -> ConfigurableClassData | None:
        return None

    @property
    def run_storage_data(self) -> ConfigurableClassData | None:
        return None

    @property
    def schedule_storage_data(self) -> ConfigurableClassData | None:
        return None
