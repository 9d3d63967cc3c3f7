"""Engines and URLs: one normalization of database URLs for SQLAlchemy, psycopg and Dagster.

Our data path runs on psycopg 3 (``postgresql+psycopg://``); dagster-postgres needs psycopg2
(``postgresql+psycopg2://``), see DESIGN.md's pitfalls. URLs may carry passwords, so anything
that logs or raises uses :func:`redact_url`.

Schemas: every engine of the data path is built here, with its schema in the URL as the
libpq ``options=-csearch_path=<schema>`` parameter (:func:`with_search_path`). Because it is
part of the URL, everything derived from ``engine.url`` lands in the same schema too: the
rate budget's autocommit engine, raw psycopg connections (:func:`to_libpq_url`) and COPY on
:func:`driver_connection`. Our SQL is unqualified, so it follows the search path; the
schema itself is created by :func:`~tiktok_etl.storage.migrations.migrate`.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from tiktok_etl.settings import Settings

_SCHEME = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://")
_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}


def _with_driver(url: str, driver: str) -> str:
    match = _SCHEME.match(url)
    if match is None or match.group("scheme") not in _POSTGRES_SCHEMES:
        raise ValueError(f"not a PostgreSQL URL: {redact_url(url)}")
    return f"postgresql+{driver}://" + url[match.end() :]


def normalize_url(url: str) -> str:
    """``postgres://``, ``postgresql://`` or a psycopg2 URL as a psycopg 3 SQLAlchemy URL."""
    return _with_driver(url, "psycopg")


def to_psycopg2_url(url: str) -> str:
    """The same database as a ``postgresql+psycopg2://`` URL, for dagster-postgres."""
    return _with_driver(url, "psycopg2")


def to_libpq_url(url: str) -> str:
    """The same database as a plain ``postgresql://`` URI for ``psycopg.connect`` or psql."""
    parsed = make_url(normalize_url(url)).set(drivername="postgresql")
    base = parsed.set(query={}).render_as_string(hide_password=False)
    if not parsed.query:
        return base
    # libpq decodes %20, not SQLAlchemy's "+", as a space (options="-c a=1 -c b=2")
    return f"{base}?{urlencode(parsed.query, doseq=True, quote_via=quote)}"


def redact_url(url: str) -> str:
    """The URL with its password masked, safe for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        # unparseable: mask anything between "user:" and "@"
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


# a search_path given in libpq "options", as "-csearch_path=x" or "-c search_path=x"
_SEARCH_PATH_OPTION = re.compile(r"(?:^|\s)-c\s*search_path=(?P<path>\S+)")


def default_schema() -> str:
    """The schema of ``TIKTOK_ETL_PG_SCHEMA``'s default (``tiktok``)."""
    schema: str = Settings.default_of("pg_schema")
    return schema


def with_search_path(url: str | URL, schema: str) -> str:
    """``url`` whose connections use ``search_path=<schema>``, replacing any search path its
    ``options`` named and keeping its other options. ``schema`` is a validated identifier
    (``settings.sql_identifier``), so it needs no quoting."""
    parsed = make_url(url) if isinstance(url, str) else url
    options = parsed.query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    kept = _SEARCH_PATH_OPTION.sub(" ", options).strip()
    merged = f"{kept} -csearch_path={schema}".strip()
    return parsed.update_query_dict({"options": merged}).render_as_string(hide_password=False)


def search_path_schema(url: str | URL) -> str | None:
    """The schema a URL's ``options`` put first on the search path, if it names one."""
    parsed = make_url(url) if isinstance(url, str) else url
    options = parsed.query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    match = _SEARCH_PATH_OPTION.search(options)
    if match is None:
        return None
    return match.group("path").split(",")[0].strip('"')


def make_engine(url: str, *, schema: str | None = None, **kwargs: object) -> sa.Engine:
    """A psycopg 3 engine on ``schema`` (default: ``TIKTOK_ETL_PG_SCHEMA``'s default) with
    ``pool_pre_ping`` (servers restart, the embedded one too)."""
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(
        with_search_path(normalize_url(url), schema or default_schema()), **kwargs
    )


def driver_connection(conn: sa.Connection) -> psycopg.Connection:
    """The psycopg connection under a SQLAlchemy connection (for COPY), same transaction."""
    raw = conn.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"expected a psycopg 3 connection, got {type(raw).__name__}")
    return raw


def ensure_schema(conn: psycopg.Connection, schema: str) -> None:
    """Create ``schema`` unless it exists. Looked up first: ``CREATE SCHEMA IF NOT EXISTS``
    still needs ``CREATE`` on the database, which a user given a ready schema may lack."""
    found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if found is None:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
