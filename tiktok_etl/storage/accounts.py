"""``tiktok_accounts``: the registry of connected TikTok identities, source of truth for
the Dagster ``account`` partitions.

An account key becomes part of a Dagster multi-partition key (``acme_main|2026-11-05``) and
of Parquet paths, hence the strict format: lowercase letters, digits, ``_`` and ``-``.
Tokens live in :mod:`tokens`; removing an account removes its tokens (foreign key
cascade) and keeps its data unless asked to purge it.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import sqlalchemy as sa

from tiktok_etl.storage.errors import AccountExists, AccountNotFound, InvalidAccountKey
from tiktok_etl.storage.tables import RAW_TABLES, quote_ident

ApiFamily = Literal["display", "business"]
KeywordMode = Literal["tag", "filter"]
AccountStatus = Literal["active", "reauth_required", "revoked", "disabled"]

API_FAMILIES: tuple[str, ...] = get_args(ApiFamily)
KEYWORD_MODES: tuple[str, ...] = get_args(KeywordMode)
ACCOUNT_STATUSES: tuple[str, ...] = get_args(AccountStatus)

ACCOUNT_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

# tables whose rows of an account remove(purge=True) deletes; add new per-account tables here
ACCOUNT_DATA_TABLES: tuple[str, ...] = (
    *(spec.name for spec in RAW_TABLES),
    "tiktok_rejects",
    "tiktok_comment_cache",
    "tiktok_comment_video_state",
    "tiktok_video_links",
)


def validate_account_key(key: str) -> str:
    if not isinstance(key, str) or not ACCOUNT_KEY_PATTERN.match(key):
        raise InvalidAccountKey(
            f"invalid account key {key!r}: use 1-63 lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit (it becomes part of partition keys and paths)"
        )
    return key


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise ValueError(f"invalid {what} {value!r}; expected one of {', '.join(choices)}")


def normalize_keywords(keywords: Iterable[str]) -> tuple[str, ...]:
    """Stripped, non-empty, first occurrence kept (case preserved)."""
    seen: dict[str, None] = {}
    for keyword in keywords:
        cleaned = keyword.strip()
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


@dataclass(frozen=True)
class Account:
    account_key: str
    api: ApiFamily
    open_id: str
    tenant_id: int = 1
    source_id: str | None = None
    keywords: tuple[str, ...] = ()
    keyword_mode: KeywordMode = "tag"
    status: AccountStatus = "active"
    status_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        validate_account_key(self.account_key)
        _check_choice(self.api, API_FAMILIES, "api")
        _check_choice(self.keyword_mode, KEYWORD_MODES, "keyword mode")
        _check_choice(self.status, ACCOUNT_STATUSES, "status")
        if not self.open_id:
            raise ValueError(f"account {self.account_key!r}: open_id is required")
        object.__setattr__(self, "keywords", normalize_keywords(self.keywords))

    @property
    def is_active(self) -> bool:
        return self.status == "active"


_COLUMNS = (
    "account_key, api, open_id, tenant_id, source_id, keywords, keyword_mode, "
    "status, status_reason, created_at, updated_at"
)


def _account(row: sa.Row[Any]) -> Account:
    values = row._asdict()
    values["keywords"] = tuple(values["keywords"] or ())
    return Account(**values)


class AccountStore:
    """CRUD over ``tiktok_accounts``. Each method is its own transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(self, account: Account) -> Account:
        """Register a new account; raises AccountExists if its key is taken."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    "INSERT INTO tiktok_accounts (account_key, api, open_id, tenant_id, "
                    "source_id, keywords, keyword_mode, status, status_reason) "
                    "VALUES (:account_key, :api, :open_id, :tenant_id, :source_id, "
                    ":keywords, :keyword_mode, :status, :status_reason) "
                    f"ON CONFLICT (account_key) DO NOTHING RETURNING {_COLUMNS}"
                ),
                {
                    "account_key": account.account_key,
                    "api": account.api,
                    "open_id": account.open_id,
                    "tenant_id": account.tenant_id,
                    "source_id": account.source_id,
                    "keywords": list(account.keywords),
                    "keyword_mode": account.keyword_mode,
                    "status": account.status,
                    "status_reason": account.status_reason,
                },
            ).first()
        if row is None:
            raise AccountExists(account.account_key)
        return _account(row)

    def get(self, account_key: str) -> Account:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text(f"SELECT {_COLUMNS} FROM tiktok_accounts WHERE account_key = :key"),
                {"key": account_key},
            ).first()
        if row is None:
            raise AccountNotFound(account_key)
        return _account(row)

    def exists(self, account_key: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.text("SELECT 1 FROM tiktok_accounts WHERE account_key = :key"),
                    {"key": account_key},
                ).first()
                is not None
            )

    def list(self, status: AccountStatus | None = None) -> builtins.list[Account]:
        """All accounts (or those with ``status``), ordered by key."""
        if status is not None:
            _check_choice(status, ACCOUNT_STATUSES, "status")
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT {_COLUMNS} FROM tiktok_accounts "
                    "WHERE CAST(:status AS text) IS NULL OR status = :status "
                    "ORDER BY account_key"
                ),
                {"status": status},
            ).all()
        return [_account(row) for row in rows]

    def set_status(
        self, account_key: str, status: AccountStatus, reason: str | None = None
    ) -> Account:
        """Change the status; ``reason`` (shown in the UI) replaces the previous one."""
        _check_choice(status, ACCOUNT_STATUSES, "status")
        return self._update(
            account_key,
            "status = :status, status_reason = :reason",
            {"status": status, "reason": reason},
        )

    def set_keywords(
        self, account_key: str, keywords: Iterable[str], mode: KeywordMode = "tag"
    ) -> Account:
        _check_choice(mode, KEYWORD_MODES, "keyword mode")
        return self._update(
            account_key,
            "keywords = :keywords, keyword_mode = :mode",
            {"keywords": list(normalize_keywords(keywords)), "mode": mode},
        )

    def _update(self, account_key: str, assignments: str, params: dict[str, Any]) -> Account:
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    f"UPDATE tiktok_accounts SET {assignments}, updated_at = now() "
                    f"WHERE account_key = :account_key RETURNING {_COLUMNS}"
                ),
                {**params, "account_key": account_key},
            ).first()
        if row is None:
            raise AccountNotFound(account_key)
        return _account(row)

    def remove(self, account_key: str, *, purge: bool = False) -> None:
        """Delete the account and its tokens; with ``purge``, also its rows in PostgreSQL
        (raw tables, rejects, comment state). Parquet files are not touched."""
        with self.engine.begin() as conn:
            deleted = conn.execute(
                sa.text("DELETE FROM tiktok_accounts WHERE account_key = :key"),
                {"key": account_key},
            ).rowcount
            if not deleted:
                raise AccountNotFound(account_key)
            if purge:
                for table in ACCOUNT_DATA_TABLES:
                    conn.execute(
                        sa.text(f"DELETE FROM {quote_ident(table)} WHERE account_key = :key"),
                        {"key": account_key},
                    )
