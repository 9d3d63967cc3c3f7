"""The one connector resource every asset, check, schedule and sensor uses.

Its fields are generated from the configuration table (``tiktok_etl.settings.SETTINGS``):
one typed, optional field per setting (``int``, ``float``, ``bool`` or ``str``), described
in the Dagster UI by the table. The Definitions object passes ``dg.EnvVar(...)`` for the
variables set in the environment, so secrets stay environment-backed in the Dagster UI;
unset fields fall back to the process environment and then to the table's defaults (for
example the embedded PostgreSQL under ``TIKTOK_ETL_HOME``). Nothing here declares a setting.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from tiktok_etl.runtime import Runtime, Services, open_runtime
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.settings import SETTINGS, Setting, Settings

RESOURCE_SETTINGS: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.resource_field)

# resource field -> environment variable of the configuration contract
FIELD_VARIABLES: Mapping[str, str] = {
    s.resource_field: s.variable for s in RESOURCE_SETTINGS if s.resource_field
}


def _field_type(entry: Setting) -> Any:
    # Dagster config has no path type: a path travels as its text
    value_type = str if entry.python_type is Path else entry.python_type
    return value_type | None


def _field_description(entry: Setting) -> str:
    secret = " Secret: pass it as an EnvVar." if entry.secret else ""
    return f"{entry.variable}: {entry.description} (default: {entry.documented_default}).{secret}"


def _resource_fields() -> dict[str, Any]:
    """Class-body entries declaring one optional, described field per resource setting."""
    namespace: dict[str, Any] = {"__annotations__": {}}
    for entry in RESOURCE_SETTINGS:
        assert entry.resource_field
        namespace["__annotations__"][entry.resource_field] = _field_type(entry)
        namespace[entry.resource_field] = Field(default=None, description=_field_description(entry))
    return namespace


class TikTokConnectorResource(dg.ConfigurableResource):
    """TikTok API clients for the stored accounts, plus the warehouse they land in.

    Example::

        defs = dg.Definitions(
            assets=[...],
            resources={"tiktok": TikTokConnectorResource(sandbox=True)},
        )
    """

    # the fields of the configuration table, typed (see the module docstring)
    locals().update(_resource_fields())

    _runtime: Runtime | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        env = dict(os.environ)
        for entry in RESOURCE_SETTINGS:
            value = getattr(self, entry.resource_field or "")
            if value is not None:
                env[entry.variable] = entry.to_env(value)
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
    """The resource with ``dg.EnvVar`` for every contract variable set when the code loads.

    Dagster 1.13 resolves environment variables into ``str`` and ``int`` fields only (its
    bool source reads ``no`` as true, and it has no float source), so a set ``bool`` or
    ``float`` setting is passed as the value the table validated; neither is a secret.
    """
    settings = Settings.from_env()
    values: dict[str, Any] = {}
    for entry in RESOURCE_SETTINGS:
        if not os.environ.get(entry.variable) or not entry.resource_field:
            continue
        if entry.python_type is int:
            values[entry.resource_field] = dg.EnvVar.int(entry.variable)
        elif entry.python_type in (bool, float):
            values[entry.resource_field] = getattr(settings, entry.attribute)
        else:
            values[entry.resource_field] = dg.EnvVar(entry.variable)
    return TikTokConnectorResource(**values)
