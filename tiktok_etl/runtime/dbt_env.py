"""The environment the example dbt project's ``profiles.yml`` reads, from one :class:`Runtime`.

``examples/dbt/profiles.yml`` takes every connection value from environment variables, so
one profile serves the embedded default (a unix socket under ``TIKTOK_ETL_HOME``, no
password), a configured ``TIKTOK_ETL_DATABASE_URL`` and a user running plain ``dbt``.
:func:`dbt_environment` is the one place that derives them from the database this process
already resolved: ``tiktok-etl dbt build`` and the Dagster dbt asset both use it.

The password goes into ``DBT_ENV_SECRET_TIKTOK_ETL_DBT_PASSWORD``: dbt scrubs variables with
that prefix from its logs, and nothing here puts it in an argument list or a log line.
"""

from __future__ import annotations

import getpass
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import make_url

from tiktok_etl.runtime import Runtime
from tiktok_etl.settings import ConfigError, Settings
from tiktok_etl.storage.db import normalize_url

HOST_VAR = "TIKTOK_ETL_DBT_HOST"
PORT_VAR = "TIKTOK_ETL_DBT_PORT"
USER_VAR = "TIKTOK_ETL_DBT_USER"
PASSWORD_VAR = "DBT_ENV_SECRET_TIKTOK_ETL_DBT_PASSWORD"
DBNAME_VAR = "TIKTOK_ETL_DBT_DBNAME"
SCHEMA_VAR = "TIKTOK_ETL_DBT_SCHEMA"
SSLMODE_VAR = "TIKTOK_ETL_DBT_SSLMODE"
# the schema of the connector's tables, read by models/sources.yml
SOURCE_SCHEMA_VAR = "TIKTOK_ETL_PG_SCHEMA"

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def source_schema(settings: Settings) -> str:
    """Where the connector's tables live (``TIKTOK_ETL_PG_SCHEMA``)."""
    return settings.pg_schema


def _first(value: str | tuple[str, ...] | None) -> str | None:
    if isinstance(value, tuple):
        return value[0] if value else None
    return value


def dbt_environment(runtime: Runtime) -> dict[str, str]:
    """The variables of ``examples/dbt/profiles.yml`` and ``sources.yml`` for ``runtime``."""
    settings = runtime.settings
    target, source = settings.dbt_schema, source_schema(settings)
    if not _IDENTIFIER.match(target):
        raise ConfigError(
            f"{SCHEMA_VAR} must be a lowercase SQL identifier (letters, digits, _); got {target!r}"
        )
    if target == source:
        raise ConfigError(
            f"{SCHEMA_VAR} must differ from the schema of the connector's data ({source!r}): "
            "dbt models build into their own schema"
        )
    url = make_url(normalize_url(runtime.database_url))
    query: Mapping[str, str | tuple[str, ...]] = url.query
    # the embedded server (and any unix-socket URL) names its socket directory in ?host=
    host = url.host or _first(query.get("host")) or "localhost"
    port = url.port or _first(query.get("port")) or 5432
    env = {
        HOST_VAR: host,
        PORT_VAR: str(port),
        USER_VAR: url.username or getpass.getuser(),
        DBNAME_VAR: url.database or "postgres",
        SCHEMA_VAR: target,
        SOURCE_SCHEMA_VAR: source,
    }
    if url.password:
        env[PASSWORD_VAR] = str(url.password)
    sslmode = _first(query.get("sslmode"))
    if sslmode:
        env[SSLMODE_VAR] = sslmode
    return env


def dbt_executable() -> str | None:
    """The ``dbt`` installed beside this interpreter (the ``.[dbt]`` extra), else on ``PATH``."""
    return shutil.which("dbt", path=str(Path(sys.executable).parent)) or shutil.which("dbt")
