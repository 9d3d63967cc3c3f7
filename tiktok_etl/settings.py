"""The configuration contract: every environment variable, declared once.

Each setting is one ``setting(...)`` entry in the body of :class:`Settings`: its variable,
its Python type (the annotation), its meaning, its default (written as it would be in the
environment), its validator, whether it is a secret and its connector-resource field.
Everything else is derived from that table (:data:`SETTINGS`): :meth:`Settings.from_env`,
the typed fields of ``defs.resources.TikTokConnectorResource``, the variables ``tiktok-etl
env`` prints, and the README's configuration table (:func:`markdown_table`, checked by a
test). Add a setting here and regenerate the README table; nothing else declares it.

Parsing happens when a command or a Dagster resource starts, never at import time. An
invalid value fails with a one-line :class:`ConfigError` that names the variable and never
echoes a secret's value. This module must not import the rest of the project.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from string import Template
from types import NoneType, UnionType
from typing import Any, get_args, get_type_hints
from urllib.parse import urlsplit

DAGSTER_URL_VAR = "TIKTOK_ETL_DAGSTER_PG_URL"


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable and how to fix it."""


class Invalid(ValueError):
    """Raised by a validator: what the value must be, and what it was if that is safe to show.

    ``expected`` may refer to the setting's default as ``{default}``.
    """

    def __init__(self, expected: str, observed: str | None = None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.observed = observed


def text(raw: str) -> str:
    return raw.strip()


def verbatim(raw: str) -> str:
    """App credentials are used exactly as TikTok issued them."""
    return raw


def directory(raw: str) -> Path:
    return Path(raw.strip()).expanduser().resolve()


def positive_int(raw: str) -> int:
    value = raw.strip()
    if not re.fullmatch(r"\d+", value) or int(value) <= 0:
        raise Invalid("a positive integer")
    return int(value)


def fraction(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value < 1):
        raise Invalid("a number between 0 and 1 (exclusive)")
    return value


def flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"", "0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    raise Invalid("1 or 0 (true/false)", repr(value))


_OWNER = re.compile(r"^(team:[A-Za-z0-9_.-]+|[^@\s,]+@[^@\s,]+\.[^@\s,]+)$")


def owner_list(raw: str) -> str:
    """Comma-separated asset owners, as Dagster accepts them (an e-mail or ``team:<name>``)."""
    owners = [part.strip() for part in raw.split(",") if part.strip()]
    bad = [owner for owner in owners if not _OWNER.match(owner)]
    if not owners or bad:
        raise Invalid(
            "comma-separated e-mail addresses or team:<name> entries, e.g. 'team:data,ana@x.io'",
            repr(", ".join(bad)) if bad else None,
        )
    return ",".join(owners)


def _checked_http_url(raw: str) -> str:
    value = raw.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("an http(s) URL such as {default!r}")
    return value


def api_root(raw: str) -> str:
    """An API root, joined with paths (so without a trailing slash)."""
    return _checked_http_url(raw).rstrip("/")


def page_url(raw: str) -> str:
    """A page used as given (the authorize page keeps its trailing slash)."""
    return _checked_http_url(raw)


def postgres_url(raw: str) -> str:
    value = raw.strip()
    scheme = urlsplit(value).scheme
    if not (scheme.startswith("postgresql") or scheme == "postgres"):
        # the URL may hold a password: show only its scheme
        raise Invalid(
            "a PostgreSQL URL (postgresql://user:password@host:5432/dbname)",
            f"a {scheme or 'schemeless'!r} URL",
        )
    return value


_SQL_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def sql_identifier(raw: str) -> str:
    """A plain lowercase PostgreSQL identifier (a schema name), safe unquoted in search_path."""
    value = raw.strip()
    if not _SQL_IDENTIFIER.fullmatch(value) or value.startswith("pg_"):
        raise Invalid("a lowercase SQL identifier (letters, digits, _; not starting pg_)")
    return value


def iso_date(raw: str) -> date:
    value = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise Invalid("an ISO date (YYYY-MM-DD)")


@dataclass(frozen=True)
class Setting:
    """One entry of the configuration table (see :func:`setting`)."""

    variable: str
    description: str
    parse: Callable[[str], Any]
    default: str | None
    unset: str | None
    secret: bool
    resource_field: str | None
    shell_export: bool
    attribute: str = ""
    python_type: type = str

    @property
    def documented_default(self) -> str:
        if self.unset is not None:
            return self.unset
        return "unset" if self.default is None else f"`{self.default}`"

    def read(self, raw: str, defaults: Mapping[str, str]) -> Any:
        """The typed value of ``raw`` (blank: the default, which may name earlier settings)."""
        if not raw.strip():
            if self.default is None:
                return None
            raw = Template(self.default).substitute(defaults)
        try:
            return self.parse(raw)
        except Invalid as exc:
            problem = f"{self.variable} must be {exc.expected.format(default=self.default)}"
            observed = exc.observed
            if observed is None and not self.secret:
                observed = repr(raw.strip())
            raise ConfigError(f"{problem}; got {observed}" if observed else problem) from None

    def to_env(self, value: Any) -> str:
        """``value`` written back as this setting's environment text."""
        if isinstance(value, bool):
            return "1" if value else "0"
        return str(value)


def setting(
    variable: str,
    description: str,
    *,
    parse: Callable[[str], Any] = text,
    default: str | None = None,
    unset: str | None = None,
    secret: bool = False,
    resource_field: str | None = None,
    in_resource: bool = True,
    shell_export: bool = False,
) -> Any:
    """Declare a :class:`Settings` attribute read from ``variable``.

    ``default`` is the environment text used when the variable is unset or blank (it may
    name an earlier setting, e.g. ``$TIKTOK_ETL_HOME/parquet``); ``None`` means no value.
    ``unset`` is the README's wording for the default when it is not that literal text.
    ``resource_field`` names the connector-resource field (default: the attribute name);
    ``in_resource=False`` leaves the setting out of the resource. ``shell_export`` puts it
    in ``tiktok-etl env``. A secret is excluded from ``repr`` and never shown in an error.
    """
    entry = Setting(
        variable=variable,
        description=description,
        parse=parse,
        default=default,
        unset=unset,
        secret=secret,
        # "": the attribute's name, filled in when the table is built
        resource_field=(resource_field or "") if in_resource else None,
        shell_export=shell_export,
    )
    return field(repr=not secret, metadata={"setting": entry})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Validated settings, one attribute per variable. Build with :meth:`from_env`."""

    display_client_key: str | None = setting(
        "TIKTOK_CLIENT_KEY",
        "Display API (Login Kit) app client key",
        parse=verbatim,
        unset="required for live display accounts",
        resource_field="client_key",
    )
    display_client_secret: str | None = setting(
        "TIKTOK_CLIENT_SECRET",
        "Display API app client secret",
        parse=verbatim,
        unset="required for live display accounts",
        secret=True,
        resource_field="client_secret",
    )
    business_app_id: str | None = setting(
        "TIKTOK_BUSINESS_APP_ID",
        "Business API app id",
        parse=verbatim,
        unset="required for live business accounts",
    )
    business_app_secret: str | None = setting(
        "TIKTOK_BUSINESS_APP_SECRET",
        "Business API app secret",
        parse=verbatim,
        unset="required for live business accounts",
        secret=True,
    )
    display_api_base_url: str = setting(
        "TIKTOK_API_BASE_URL",
        "Display API host",
        parse=api_root,
        default="https://open.tiktokapis.com",
        resource_field="api_base_url",
    )
    business_api_base_url: str = setting(
        "TIKTOK_BUSINESS_API_BASE_URL",
        "Business API root",
        parse=api_root,
        default="https://business-api.tiktok.com/open_api/v1.3",
    )
    authorize_url: str = setting(
        "TIKTOK_AUTHORIZE_URL",
        "OAuth authorize page (both families)",
        parse=page_url,
        default="https://www.tiktok.com/v2/auth/authorize/",
    )
    database_url: str | None = setting(
        "TIKTOK_ETL_DATABASE_URL",
        "PostgreSQL for data, accounts, tokens and the Dagster instance",
        parse=postgres_url,
        unset="unset: embedded PostgreSQL under the home directory",
        secret=True,
        shell_export=True,
    )
    # setting() returns a dataclasses.Field, like field()
    home: Path = setting(  # noqa: RUF009
        "TIKTOK_ETL_HOME",
        "local state (embedded database, generated key, Dagster home)",
        parse=directory,
        default="./.tiktok_etl",
        shell_export=True,
    )
    parquet_root: str = setting(
        "TIKTOK_ETL_PARQUET_ROOT",
        "Parquet dataset root (local path or object-store URL)",
        default="$TIKTOK_ETL_HOME/parquet",
    )
    token_key: str | None = setting(
        "TIKTOK_ETL_TOKEN_KEY",
        "Fernet key that encrypts tokens at rest; several comma-separated keys, newest "
        "first, while rotating (`tiktok-etl keys rotate`)",
        unset="generated into $TIKTOK_ETL_HOME/token.key (0600)",
        secret=True,
    )
    sandbox: bool = setting(
        "TIKTOK_ETL_SANDBOX",
        "`1`: talk to the built-in simulated TikTok instead of the real API",
        parse=flag,
        default="0",
        unset="unset",
    )
    rate_limit_per_minute: int = setting(
        "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE",
        "requests per endpoint per sliding minute, per app: one budget in the database "
        "shared by every process",
        parse=positive_int,
        default="600",
    )
    lookback_days: int = setting(
        "TIKTOK_ETL_LOOKBACK_DAYS",
        "days the daily schedule re-materializes",
        parse=positive_int,
        default="7",
    )
    batch_size: int = setting(
        "TIKTOK_ETL_BATCH_SIZE",
        "accounts per scheduled run: the schedules pack this many accounts (each with all "
        "its days) into one run",
        parse=positive_int,
        default="200",
    )
    max_retry_seconds: int = setting(
        "TIKTOK_ETL_MAX_RETRY_SECONDS",
        "cap on the total time one request waits across its retries",
        parse=positive_int,
        default="300",
    )
    refresh_fraction: float = setting(
        "TIKTOK_ETL_REFRESH_FRACTION",
        "the token sensor refreshes an access token once less than this share of the "
        "lifetime TikTok reported is left (0 < f < 1)",
        parse=fraction,
        default="0.25",
    )
    # read by the Dagster instance storage before any resource exists
    dagster_database_url: str | None = setting(
        DAGSTER_URL_VAR,
        "PostgreSQL for the Dagster instance, if not the data database",
        unset="derived from TIKTOK_ETL_DATABASE_URL (or the embedded server)",
        secret=True,
        in_resource=False,
        shell_export=True,
    )
    comment_workers: int = setting(
        "TIKTOK_ETL_COMMENT_WORKERS",
        "videos whose comments are read concurrently",
        parse=positive_int,
        default="8",
    )
    metrics_max_age_days: int = setting(
        "TIKTOK_ETL_METRICS_MAX_AGE_DAYS",
        "videos younger than this many days get a daily `tiktok_video_metrics` snapshot",
        parse=positive_int,
        default="90",
    )
    research_client_key: str | None = setting(
        "TIKTOK_ETL_RESEARCH_CLIENT_KEY",
        "Research API client key (academic access); listening queries run only when it "
        "and the secret are set, or in sandbox mode",
        parse=verbatim,
        unset="unset: listening is off",
    )
    research_client_secret: str | None = setting(
        "TIKTOK_ETL_RESEARCH_CLIENT_SECRET",
        "Research API client secret",
        parse=verbatim,
        unset="unset: listening is off",
        secret=True,
    )
    research_api_base_url: str = setting(
        "TIKTOK_ETL_RESEARCH_API_BASE_URL",
        "Research API host",
        parse=api_root,
        default="https://open.tiktokapis.com",
    )
    research_daily_requests: int = setting(
        "TIKTOK_ETL_RESEARCH_DAILY_REQUESTS",
        "Research API requests per UTC day, shared by every process (TikTok's quota)",
        parse=positive_int,
        default="1000",
    )
    research_daily_records: int = setting(
        "TIKTOK_ETL_RESEARCH_DAILY_RECORDS",
        "Research API records (videos + comments returned) per UTC day, shared by every process",
        parse=positive_int,
        default="100000",
    )
    research_comments_per_video: int = setting(
        "TIKTOK_ETL_RESEARCH_COMMENTS_PER_VIDEO",
        "top comments read per matched video (TikTok serves at most 1,000; each 100 cost a "
        "request)",
        parse=positive_int,
        default="100",
    )
    posting_audited: bool = setting(
        "TIKTOK_ETL_POSTING_AUDITED",
        "`1` once TikTok has audited the app for the Content Posting API; until then "
        "`tiktok-etl publish` allows only `SELF_ONLY` direct posts",
        parse=flag,
        default="0",
        in_resource=False,
    )
    posting_inits_per_minute: int = setting(
        "TIKTOK_ETL_POSTING_INITS_PER_MINUTE",
        "video init requests per account (token) per sliding minute, shared through the "
        "database (TikTok allows 6)",
        parse=positive_int,
        default="6",
        in_resource=False,
    )
    posting_daily_limit: int = setting(
        "TIKTOK_ETL_POSTING_DAILY_LIMIT",
        "posts per account in any 24 hours, counted from `tiktok_posts` (TikTok allows "
        "about 15 per creator across all apps)",
        parse=positive_int,
        default="15",
        in_resource=False,
    )
    posting_max_wait_seconds: int = setting(
        "TIKTOK_ETL_POSTING_MAX_WAIT_SECONDS",
        "how long `tiktok-etl publish` waits for a free init slot before refusing",
        parse=positive_int,
        default="120",
        in_resource=False,
    )
    posting_chunk_mb: int = setting(
        "TIKTOK_ETL_POSTING_CHUNK_MB",
        "upload chunk size in MiB (5 to 64; the last chunk takes the remainder)",
        parse=positive_int,
        default="10",
        in_resource=False,
    )

    pg_schema: str = setting(
        "TIKTOK_ETL_PG_SCHEMA",
        "PostgreSQL schema of every table of ours (created if missing; `search_path` of "
        "every data connection)",
        parse=sql_identifier,
        default="tiktok",
        in_resource=False,
    )
    dagster_pg_schema: str = setting(
        "TIKTOK_ETL_DAGSTER_PG_SCHEMA",
        "PostgreSQL schema of the Dagster instance's tables (created if missing)",
        parse=sql_identifier,
        default="dagster",
        in_resource=False,
    )
    # setting() returns a dataclasses.Field, like field()
    start_date: date = setting(  # noqa: RUF009
        "TIKTOK_ETL_START_DATE",
        "first UTC day of the daily partitions; fixed, so the partition set never moves "
        "under running sensors: set your own first day of history",
        parse=iso_date,
        default="2024-01-01",
        in_resource=False,
    )
    owners: str = setting(
        "TIKTOK_ETL_OWNERS",
        "owners every asset names in the Dagster catalog: comma-separated e-mail addresses "
        "or `team:<name>`",
        parse=owner_list,
        default="team:tiktok-etl",
        in_resource=False,
    )
    dbt_schema: str = setting(
        "TIKTOK_ETL_DBT_SCHEMA",
        "schema the example dbt project (`examples/dbt`) builds its models into; never the "
        "schema of the connector's data",
        default="tiktok_analytics",
        in_resource=False,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        resolved: dict[str, str] = {}
        for entry in SETTINGS:
            value = entry.read(env.get(entry.variable, ""), resolved)
            values[entry.attribute] = value
            if value is not None:
                resolved[entry.variable] = str(value)
        return cls(**values)

    @staticmethod
    def default_of(attribute: str) -> Any:
        """The typed default of ``attribute`` (None when unset means no value)."""
        return _by_attribute()[attribute].read("", {})

    def require_app_credentials(self, api: str) -> tuple[str, str]:
        """The app credentials a live account of ``api`` needs, or a ConfigError naming them."""
        if api == "display":
            key, secret = self.display_client_key, self.display_client_secret
            names = "TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET"
        else:
            key, secret = self.business_app_id, self.business_app_secret
            names = "TIKTOK_BUSINESS_APP_ID and TIKTOK_BUSINESS_APP_SECRET"
        if self.sandbox:
            return key or "sandbox-app", secret or "sandbox-secret"
        if not key or not secret:
            raise ConfigError(
                f"{names} must be set to talk to TikTok for {api} accounts "
                "(or set TIKTOK_ETL_SANDBOX=1 to use the built-in simulated TikTok)"
            )
        return key, secret


def _value_type(annotation: Any) -> type:
    """``int`` for ``int``, ``str`` for ``str | None``."""
    if isinstance(annotation, UnionType):
        (inner,) = (arg for arg in get_args(annotation) if arg is not NoneType)
        return _value_type(inner)
    if not isinstance(annotation, type):
        raise TypeError(f"a setting's type must be a class or `X | None`; got {annotation!r}")
    return annotation


def _table() -> tuple[Setting, ...]:
    hints = get_type_hints(Settings)
    entries = []
    for f in fields(Settings):
        entry: Setting = f.metadata["setting"]
        resource_field = f.name if entry.resource_field == "" else entry.resource_field
        entries.append(
            replace(
                entry,
                attribute=f.name,
                python_type=_value_type(hints[f.name]),
                resource_field=resource_field,
            )
        )
    return tuple(entries)


SETTINGS: tuple[Setting, ...] = _table()


def _by_attribute() -> dict[str, Setting]:
    return {entry.attribute: entry for entry in SETTINGS}


def setting_for(variable: str) -> Setting:
    """The table entry of ``variable``."""
    for entry in SETTINGS:
        if entry.variable == variable:
            return entry
    raise KeyError(variable)


def markdown_table() -> str:
    """The README's configuration table, generated from :data:`SETTINGS`."""
    lines = ["| variable | meaning | default |", "|---|---|---|"]
    for entry in SETTINGS:
        lines.append(f"| `{entry.variable}` | {entry.description} | {entry.documented_default} |")
    return "\n".join(lines) + "\n"
