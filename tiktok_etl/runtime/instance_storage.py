"""Dagster instance storage in the project's PostgreSQL, found the same way as the data.

``dagster.yaml`` names this class instead of a fixed ``postgres_url`` so that plain
``dagster dev -w workspace.yaml`` or ``dagster asset materialize`` work with no extra
environment: the URL is ``TIKTOK_ETL_DAGSTER_PG_URL`` if set, else
``TIKTOK_ETL_DATABASE_URL``, else the embedded server under ``TIKTOK_ETL_HOME`` (started if
needed). dagster-postgres needs psycopg2, so the URL is rewritten to
``postgresql+psycopg2://`` (SQLAlchemy 2.1 would otherwise pick psycopg 3, which breaks
dagster-postgres's ``NOTIFY``), and given the search path of ``TIKTOK_ETL_DAGSTER_PG_SCHEMA``
(default ``dagster``), which :mod:`tiktok_etl.runtime.dagster_schema` prepares.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage

from tiktok_etl.runtime.dagster_schema import prepare_dagster_schema
from tiktok_etl.settings import DAGSTER_URL_VAR, Settings, setting_for
from tiktok_etl.storage.db import to_psycopg2_url, with_search_path

DAGSTER_SCHEMA_VAR = "TIKTOK_ETL_DAGSTER_PG_SCHEMA"


def resolve_instance_url(env: Mapping[str, str] | None = None) -> str:
    """The instance's psycopg2 URL on its own schema, the schema created (and an instance
    left in ``public`` moved into it) first."""
    env = os.environ if env is None else env
    schema: str = setting_for(DAGSTER_SCHEMA_VAR).read(env.get(DAGSTER_SCHEMA_VAR, ""), {})
    explicit = env.get(DAGSTER_URL_VAR, "").strip()
    if explicit:
        url = to_psycopg2_url(explicit)
    else:
        from tiktok_etl.runtime import database_url_for  # avoids a cycle at import

        url = to_psycopg2_url(database_url_for(Settings.from_env(env)))
    url = with_search_path(url, schema)
    prepare_dagster_schema(url, schema)
    return url


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
