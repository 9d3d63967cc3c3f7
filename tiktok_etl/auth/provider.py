"""Access tokens for a stored account, refreshed safely across threads and processes.

TikTok refresh tokens rotate: the old one dies the moment a new one is issued. Two workers
refreshing the same account at once would leave one of them holding a dead token, so every
refresh here runs under the account's PostgreSQL advisory lock, re-reads the stored pair
first (another process may have refreshed already, or left a rotated pair in a recovery
file), and makes the new pair durable (:meth:`TokenStore.persist_rotated`) before anything
uses it. A refresh whose answer was lost in transit marks the account ``reauth_required``:
the burnt refresh token is never sent again. ``invalid_grant`` marks the account
``reauth_required`` so schedules skip it and the CLI and UI show why.

The request path refreshes through :meth:`StoredTokenProvider.access_token` (expired) and
:meth:`StoredTokenProvider.refresh` (TikTok rejected the token); the token refresh job uses
:meth:`StoredTokenProvider.refresh_if_due` and :meth:`StoredTokenProvider.force_refresh`.
All of them share the same lock, re-read and compare-and-swap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tiktok_etl.api import ReauthRequired
from tiktok_etl.api.oauth import REFRESH_ANSWER_LOST
from tiktok_etl.api.redaction import redact
from tiktok_etl.auth.model import StoredTokens, TokenSet
from tiktok_etl.auth.store import TokenStore
from tiktok_etl.storage.accounts import AccountStore

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    """What :meth:`StoredTokenProvider.refresh_if_due` / ``force_refresh`` did.

    ``refreshed`` is False when the stored pair was still fresh (possibly because another
    worker refreshed it while this one waited for the lock). ``tokens`` hides its values in
    ``repr``.
    """

    account_key: str
    refreshed: bool
    tokens: StoredTokens


class StoredTokenProvider:
    """The :class:`tiktok_etl.api.TokenProvider` for an account whose tokens live in Postgres."""

    def __init__(
        self,
        tokens: TokenStore,
        accounts: AccountStore,
        account_key: str,
        refresher: Callable[[str], TokenSet],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = tokens
        self._accounts = accounts
        self._key = account_key
        self._refresher = refresher
        self._now = now
        self._lock = threading.Lock()
        self._current: StoredTokens | None = None
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"StoredTokenProvider(account_key={self._key!r})"

    def access_token(self) -> str:
        with self._lock:
            current = self._current or self._load()
            if current.is_expired(self._now()):
                current = self._refresh_locked(current.access_token)
            self._current = current
            return current.access_token

    def refresh(self, rejected_token: str) -> str:
        with self._lock:
            current = self._current
            if (
                current is not None
                and current.access_token != rejected_token
                and not current.is_expired(self._now())
            ):
                return current.access_token  # another thread of this worker refreshed already
            self._current = self._refresh_locked(rejected_token)
            return self._current.access_token

    def _load(self) -> StoredTokens:
        stored = self._store.load(self._key)
        if stored is None:
            raise ReauthRequired(
                "missing_tokens",
                f"account {self._key!r} has no stored tokens; run `tiktok-etl auth login`",
            )
        return stored

    def _mark_reauth(self, reason: str) -> None:
        self._accounts.set_status(self._key, "reauth_required", reason)
        _log.warning("account %s marked reauth_required: %s", self._key, redact(reason))

    @property
    def account_key(self) -> str:
        return self._key

    def refresh_if_due(self, within_fraction: float) -> RefreshResult:
        """Refresh (under the account lock) when the pair is due (:meth:`TokenSet.is_due`:
        less than ``within_fraction`` of its reported lifetime left, or about to expire).

        The decision is taken on the pair re-read under the lock, so a refresh requested for
        a token another worker already rotated is a no-op. ``ReauthRequired`` (the account is
        then marked ``reauth_required``) when TikTok refuses the refresh token.
        """
        return self._refresh_when(lambda stored: stored.is_due(within_fraction, self._now()))

    def force_refresh(self) -> RefreshResult:
        """Rotate the pair now, whatever its expiry (same lock, re-read and compare-and-swap)."""
        return self._refresh_when(lambda _stored: True)

    def _refresh_when(self, should_refresh: Callable[[StoredTokens], bool]) -> RefreshResult:
        with self._lock:
            before = self.refreshes
            self._current = self._refresh_locked(None, should_refresh)
            return RefreshResult(self._key, self.refreshes > before, self._current)

    def _refresh_locked(
        self,
        rejected_token: str | None,
        should_refresh: Callable[[StoredTokens], bool] | None = None,
    ) -> StoredTokens:
        with self._store.lock(self._key):
            # a pair an earlier process got from TikTok but could not commit comes first
            self._store.replay_recovered(self._key)
            stored = self._load()
            if should_refresh is not None:
                if not should_refresh(stored):
                    return stored  # still fresh (or another worker refreshed meanwhile)
            elif stored.access_token != rejected_token and not stored.is_expired(self._now()):
                return stored  # another worker refreshed while we waited for the lock
            if not stored.refresh_token:
                self._mark_reauth("no refresh token stored")
                raise ReauthRequired("missing_refresh_token", f"account {self._key!r}")
            try:
                fresh = self._refresher(stored.refresh_token)
            except ReauthRequired as exc:
                detail = f" ({exc.description})" if exc.description else ""
                if exc.error == REFRESH_ANSWER_LOST:
                    self._mark_reauth(f"token refresh answer lost in transit{detail}")
                else:
                    self._mark_reauth(f"token refresh rejected: {exc.error}{detail}")
                raise
            # the old refresh token is dead now: the new pair is durable before it is used
            updated = self._store.persist_rotated(self._key, stored.version, fresh)
            self.refreshes += 1
            _log.info(
                "account %s: tokens refreshed (version %d -> %d)",
                self._key,
                stored.version,
                updated.version,
            )
            return updated
