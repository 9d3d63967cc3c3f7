"""The configuration contract: environment variables, parsed and validated in one place.

Every setting the project reads from the environment is declared in ``VARIABLES``; the
README's configuration table is checked against it by a test. Parsing happens when a
command or a Dagster resource starts, never at import time, and an invalid value fails
with a :class:`ConfigError` that names the variable (and never echoes a secret's value).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DISPLAY_API_BASE_URL = "https://open.tiktokapis.com"
BUSINESS_API_BASE_URL = "https://business-api.tiktok.com/open_api/v1.3"
AUTHORIZE_URL = "https://www.tiktok.com/v2/auth/authorize/"
DEFAULT_RATE_LIMIT_PER_MINUTE = 600
DAGSTER_URL_VAR = "TIKTOK_ETL_DAGSTER_PG_URL"


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable and how to fix it."""


@dataclass(frozen=True)
class Variable:
    name: str
    meaning: str
    default: str
    secret: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "TIKTOK_CLIENT_KEY",
        "Display API (Login Kit) app client key",
        "required for live display accounts",
    ),
    Variable(
        "TIKTOK_CLIENT_SECRET",
        "Display API app client secret",
        "required for live display accounts",
        secret=True,
    ),
    Variable(
        "TIKTOK_BUSINESS_APP_ID", "Business API app id", "required for live business accounts"
    ),
    Variable(
        "TIKTOK_BUSINESS_APP_SECRET",
        "Business API app secret",
        "required for live business accounts",
        secret=True,
    ),
    Variable("TIKTOK_API_BASE_URL", "Display API host", DISPLAY_API_BASE_URL),
    Variable("TIKTOK_BUSINESS_API_BASE_URL", "Business API root", BUSINESS_API_BASE_URL),
    Variable("TIKTOK_AUTHORIZE_URL", "OAuth authorize page (both families)", AUTHORIZE_URL),
    Variable(
        "TIKTOK_ETL_DATABASE_URL",
        "PostgreSQL for data, accounts, tokens and the Dagster instance",
        "unset: embedded PostgreSQL under the home directory",
        secret=True,
    ),
    Variable(
        "TIKTOK_ETL_HOME",
        "local state (embedded database, generated key, Dagster home)",
        "./.tiktok_etl",
    ),
    Variable(
        "TIKTOK_ETL_PARQUET_ROOT",
        "Parquet dataset root (local path or object-store URL)",
        "$TIKTOK_ETL_HOME/parquet",
    ),
    Variable(
        "TIKTOK_ETL_TOKEN_KEY",
        "Fernet key that encrypts tokens at rest",
        "generated into $TIKTOK_ETL_HOME/token.key (0600)",
        secret=True,
    ),
    Variable(
        "TIKTOK_ETL_SANDBOX",
        "`1`: talk to the built-in simulated TikTok instead of the real API",
        "unset",
    ),
    Variable(
        "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE",
        "requests per endpoint per sliding minute, per process",
        str(DEFAULT_RATE_LIMIT_PER_MINUTE),
    ),
    Variable("TIKTOK_ETL_LOOKBACK_DAYS", "days the daily schedule re-materializes", "7"),
    Variable(
        "TIKTOK_ETL_MAX_RETRY_SECONDS",
        "cap on the total time one request waits across its retries",
        "300",
    ),
    Variable(
        "TIKTOK_ETL_REFRESH_FRACTION",
        "the token sensor refreshes an access token once less than this share of the "
        "lifetime TikTok reported is left (0 < f < 1)",
        "0.25",
    ),
    Variable(
        DAGSTER_URL_VAR,
        "PostgreSQL for the Dagster instance, if not the data database",
        "derived from TIKTOK_ETL_DATABASE_URL (or the embedded server)",
        secret=True,
    ),
    Variable("TIKTOK_ETL_COMMENT_WORKERS", "videos whose comments are read concurrently", "8"),
)


def markdown_table() -> str:
    """The README's configuration table, generated from :data:`VARIABLES`."""
    lines = ["| variable | meaning | default |", "|---|---|---|"]
    for v in VARIABLES:
        default = v.default if " " in v.default or v.default == "unset" else f"`{v.default}`"
        lines.append(f"| `{v.name}` | {v.meaning} | {default} |")
    return "\n".join(lines) + "\n"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _http_url(env: Mapping[str, str], name: str, default: str, *, strip: bool = True) -> str:
    value = env.get(name, "").strip() or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL such as {default!r}; got {value!r}")
    # API roots are joined with paths; the authorize page is used as given (slash included)
    return value.rstrip("/") if strip else value


def _fraction(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value < 1):
        raise ConfigError(f"{name} must be a number between 0 and 1 (exclusive); got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be 1 or 0 (true/false); got {value!r}")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"\d+", raw) or int(raw) <= 0:
        raise ConfigError(f"{name} must be a positive integer; got {raw!r}")
    return int(raw)


def _database_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("TIKTOK_ETL_DATABASE_URL", "").strip()
    if not raw:
        return None
    scheme = urlsplit(raw).scheme
    if not (scheme.startswith("postgresql") or scheme == "postgres"):
        # do not echo the URL: it may hold a password
        raise ConfigError(
            "TIKTOK_ETL_DATABASE_URL must be a PostgreSQL URL "
            f"(postgresql://user:password@host:5432/dbname); got a {scheme or 'schemeless'!r} URL"
        )
    return raw


@dataclass(frozen=True)
class Settings:
    """Validated settings. Build with :meth:`from_env`; secrets are excluded from ``repr``."""

    home: Path
    parquet_root: str
    database_url: str | None = field(default=None, repr=False)
    token_key: str | None = field(default=None, repr=False)
    sandbox: bool = False
    display_client_key: str | None = None
    display_client_secret: str | None = field(default=None, repr=False)
    business_app_id: str | None = None
    business_app_secret: str | None = field(default=None, repr=False)
    display_api_base_url: str = DISPLAY_API_BASE_URL
    business_api_base_url: str = BUSINESS_API_BASE_URL
    authorize_url: str = AUTHORIZE_URL
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE
    lookback_days: int = 7
    comment_workers: int = 8
    max_retry_seconds: int = 300
    refresh_fraction: float = 0.25

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("TIKTOK_ETL_HOME", "").strip() or "./.tiktok_etl").expanduser()
        home = home.resolve()
        parquet_root = env.get("TIKTOK_ETL_PARQUET_ROOT", "").strip() or str(home / "parquet")
        return cls(
            home=home,
            parquet_root=parquet_root,
            database_url=_database_url(env),
            token_key=env.get("TIKTOK_ETL_TOKEN_KEY", "").strip() or None,
            sandbox=_flag(env, "TIKTOK_ETL_SANDBOX"),
            display_client_key=env.get("TIKTOK_CLIENT_KEY") or None,
            display_client_secret=env.get("TIKTOK_CLIENT_SECRET") or None,
            business_app_id=env.get("TIKTOK_BUSINESS_APP_ID") or None,
            business_app_secret=env.get("TIKTOK_BUSINESS_APP_SECRET") or None,
            display_api_base_url=_http_url(env, "TIKTOK_API_BASE_URL", DISPLAY_API_BASE_URL),
            business_api_base_url=_http_url(
                env, "TIKTOK_BUSINESS_API_BASE_URL", BUSINESS_API_BASE_URL
            ),
            authorize_url=_http_url(env, "TIKTOK_AUTHORIZE_URL", AUTHORIZE_URL, strip=False),
            rate_limit_per_minute=_positive_int(
                env, "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE", DEFAULT_RATE_LIMIT_PER_MINUTE
            ),
            lookback_days=_positive_int(env, "TIKTOK_ETL_LOOKBACK_DAYS", 7),
            comment_workers=_positive_int(env, "TIKTOK_ETL_COMMENT_WORKERS", 8),
            max_retry_seconds=_positive_int(env, "TIKTOK_ETL_MAX_RETRY_SECONDS", 300),
            refresh_fraction=_fraction(env, "TIKTOK_ETL_REFRESH_FRACTION", 0.25),
        )

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
