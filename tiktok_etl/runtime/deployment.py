"""What a worker keeps on its own machine, and the check that a distributed deployment keeps none.

The zero-setup default keeps three things under ``TIKTOK_ETL_HOME``: the embedded
PostgreSQL, the generated token key, and the Parquet dataset. That is right for one machine
and wrong for several: a run worker on another machine would start its own, empty database,
generate a key that cannot decrypt the stored tokens, or write Parquet nobody else reads.
A distributed deployment (several run workers, Dagster's K8s run launcher, a Celery
executor) shares only PostgreSQL, object storage and the environment:

- ``TIKTOK_ETL_DATABASE_URL``: the data, the tokens and the Dagster instance;
- ``TIKTOK_ETL_TOKEN_KEY``: the same Fernet key in every process;
- ``TIKTOK_ETL_PARQUET_ROOT``: an object-store URL (``s3://bucket/tiktok``), or
  ``file:///...`` for a volume every worker mounts.

The rest is shared already: the rate budget, comment cache, partition locks and token locks
are in PostgreSQL; the pending logins of ``tiktok-etl auth url`` live on the operator's
machine, not on a worker; the run-recovery tags name each run's host, and runs on another
host are left to that host's launcher (the K8s launcher checks its own pods).

:func:`require_shared_state` fails with one line naming every variable to set. The instance
storage calls it at start-up when ``dagster.yaml`` says ``deployment: distributed``, and the
event log before its first write when the run launcher is not one that runs on this machine.
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from dagster._core.launcher import DefaultRunLauncher
from dagster._serdes import ConfigurableClassData

from tiktok_etl.settings import ConfigError, Settings

LOCAL = "local"
DISTRIBUTED = "distributed"


def local_state(settings: Settings) -> list[str]:
    """What this configuration keeps on this machine, each with the variable that moves it."""
    found = []
    if not settings.database_url:
        found.append("the embedded PostgreSQL (set TIKTOK_ETL_DATABASE_URL)")
    if not settings.token_key:
        found.append("the token key file (set TIKTOK_ETL_TOKEN_KEY)")
    if not urlsplit(settings.parquet_root).scheme:
        found.append(
            "the local Parquet directory (set TIKTOK_ETL_PARQUET_ROOT to s3://... or to "
            "file:///... on a volume every worker mounts)"
        )
    return found


def require_shared_state(settings: Settings, reason: str) -> None:
    """Raise a one-line :class:`ConfigError` if anything would be kept on this machine."""
    found = local_state(settings)
    if found:
        raise ConfigError(f"{reason}, so nothing may live on one machine: {'; '.join(found)}")


def launcher_runs_here(launcher: ConfigurableClassData | None) -> bool:
    """Whether the configured run launcher starts runs as processes of this machine.

    Only imports the class (never builds it, which may need a cluster's credentials). A
    launcher that cannot be imported counts as local: loading it fails on its own, clearly.
    """
    if launcher is None:
        return True
    try:
        cls = getattr(importlib.import_module(launcher.module_name), launcher.class_name)
    except (ImportError, AttributeError):
        return True
    return isinstance(cls, type) and issubclass(cls, DefaultRunLauncher)


def check_launcher(launcher: ConfigurableClassData | None, settings: Settings) -> None:
    """A launcher that starts runs elsewhere needs state every worker shares."""
    if not launcher_runs_here(launcher):
        assert launcher is not None
        require_shared_state(
            settings, f"the run launcher {launcher.class_name} starts runs on other machines"
        )
