"""Engines and URLs: one normalization of database URLs for SQLAlchemy, psycopg and Dagster.

Our data path runs on psycopg 3 (``postgresql+psycopg://``); dagster-postgres needs psycopg2
(``postgresql+psycopg2://``), see DESIGN.md's pitfalls. URLs may carry passwords, so anything
that logs or raises uses :func:`redact_url`.
"""

from __future__ import annotations

import re

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

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
    return (
        make_url(normalize_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def redact_url(url: str) -> str:
    """The URL with its password masked, safe for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        # unparseable: mask anything between "user:" and "@"
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def make_engine(url: str, **kwargs: object) -> sa.Engine:
    """A psycopg 3 engine with ``pool_pre_ping`` (servers restart, the embedded one too)."""
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(normalize_url(url), **kwargs)


def driver_connection(conn: sa.Connection) -> psycopg.Connection:
    """The psycopg connection under a SQLAlchemy connection (for COPY), same transaction."""
    raw = conn.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"expected a psycopg 3 connection, got {type(raw).__name__}")
    return raw
