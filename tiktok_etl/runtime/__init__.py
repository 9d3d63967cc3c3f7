"""Everything a process needs to talk to the warehouse, built from :class:`Settings`.

This is the one place that decides between the embedded default (a private PostgreSQL
under ``TIKTOK_ETL_HOME``) and a configured ``TIKTOK_ETL_DATABASE_URL``, applies the
migrations, and loads the token key. The CLI, the Dagster resources and the tests all go
through it, so they can never disagree on where data lives.
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tiktok_etl.auth.keycheck import check_token_key
from tiktok_etl.auth.recovery import RECOVERY_DIR
from tiktok_etl.auth.store import TokenCipher, TokenStore
from tiktok_etl.settings import DAGSTER_URL_VAR, ConfigError, Settings
from tiktok_etl.storage.accounts import AccountStore
from tiktok_etl.storage.db import make_engine, to_psycopg2_url
from tiktok_etl.storage.embedded import EmbeddedPostgres
from tiktok_etl.storage.migrations import migrate
from tiktok_etl.storage.parquet_layout import rename_account_folders

_INSTANCE_YAML = Path(__file__).with_name("dagster_instance.yaml")


@dataclass
class Runtime:
    """Engine, stores and paths for one process; create with :func:`open_runtime`."""

    settings: Settings
    database_url: str = field(repr=False)
    engine: sa.Engine = field(repr=False)
    cipher: TokenCipher = field(repr=False)

    @property
    def accounts(self) -> AccountStore:
        return AccountStore(self.engine)

    @property
    def tokens(self) -> TokenStore:
        return TokenStore(self.engine, self.cipher, recovery_dir=self.settings.home / RECOVERY_DIR)

    @property
    def dagster_url(self) -> str:
        return to_psycopg2_url(self.database_url)

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.settings.home / "dagster")

    def child_env(self) -> dict[str, str]:
        """Environment for Dagster processes started from the CLI (daemon, webserver, runs)."""
        env = dict(os.environ)
        env["TIKTOK_ETL_HOME"] = str(self.settings.home)
        env["TIKTOK_ETL_DATABASE_URL"] = self.database_url
        env[DAGSTER_URL_VAR] = self.dagster_url
        env["DAGSTER_HOME"] = str(self.dagster_home)
        return env

    def prepare_dagster_home(self) -> Path:
        """Create ``DAGSTER_HOME`` holding the project's instance config; returns its path."""
        home = self.dagster_home
        home.mkdir(parents=True, exist_ok=True)
        target = home / "dagster.yaml"
        if not target.exists():
            shutil.copyfile(_INSTANCE_YAML, target)
        return home

    def export_env(self) -> None:
        """Make this process's own Dagster calls (``DagsterInstance.get()``) use this runtime."""
        self.prepare_dagster_home()
        os.environ.update(
            {
                "TIKTOK_ETL_DATABASE_URL": self.database_url,
                DAGSTER_URL_VAR: self.dagster_url,
                "DAGSTER_HOME": str(self.dagster_home),
            }
        )


def _load_cipher(settings: Settings) -> TokenCipher:
    if settings.token_key:
        return TokenCipher.from_env_value(settings.token_key)
    if settings.database_url:
        key_path = settings.home / "token.key"
        if not key_path.exists():
            raise ConfigError(
                "TIKTOK_ETL_TOKEN_KEY must be set when TIKTOK_ETL_DATABASE_URL is set: every "
                "worker must decrypt the same tokens. Generate one with `tiktok-etl keygen`."
            )
    settings.home.mkdir(parents=True, exist_ok=True)
    return TokenCipher.load_or_create(settings.home / "token.key")


def database_url_for(settings: Settings) -> str:
    """The configured database, or the embedded server under the home directory (started)."""
    if settings.database_url:
        return settings.database_url
    settings.home.mkdir(parents=True, exist_ok=True)
    return EmbeddedPostgres(settings.home).start()


def open_runtime(settings: Settings | None = None, *, check_key: bool = True) -> Runtime:
    """Connect (starting the embedded server if needed), migrate (and rename Parquet folders
    of earlier releases), load the token key, check
    it against the stored fingerprint (``TokenKeyMismatch``, a ``ConfigError``, says what
    to do), and replay rotated tokens a previous process could not commit.

    ``check_key=False`` only for the ``tiktok-etl keys`` commands that repair the key.
    """
    settings = settings or Settings.from_env()
    url = database_url_for(settings)
    engine = _engine_for(url, settings.pg_schema)
    migrate(engine)
    rename_account_folders(settings.parquet_root)
    runtime = Runtime(
        settings=settings, database_url=url, engine=engine, cipher=_load_cipher(settings)
    )
    if check_key:
        check_token_key(engine, runtime.cipher)
        runtime.tokens.replay_all_recovered()
    return runtime


@functools.cache
def _engine_for(url: str, schema: str) -> sa.Engine:
    # one pool per URL and schema per process: resources are set up per step, engines are not
    return make_engine(url, schema=schema)


# The Dagster layer's entry points, importable from here. Imported last: both are built on
# the Runtime defined above (and import it from this package).
from tiktok_etl.runtime.connector import Connector  # noqa: E402
from tiktok_etl.runtime.services import Services  # noqa: E402

__all__ = ["Connector", "Runtime", "Services", "database_url_for", "open_runtime"]
