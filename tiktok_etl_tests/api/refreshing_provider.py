"""An in-memory refreshing `TokenProvider` for client tests (no database, one process).

Production refreshes through `tiktok_etl.auth.provider.StoredTokenProvider` (advisory lock,
compare-and-swap); these tests only need a provider that refreshes with the same expiry rule
(`TokenSet.is_expired`) and exactly once per rejected token, to exercise the clients.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tiktok_etl.api import Clock, SystemClock, TokenResponse
from tiktok_etl.auth.model import TokenSet


class InMemoryTokenProvider:
    """Refreshes a `TokenSet` in memory; ``refresh`` is a token endpoint (e.g. ``oauth.refresh``).

    ``on_rotate`` receives every new pair before it is used.
    """

    def __init__(
        self,
        tokens: TokenSet,
        refresh: Callable[[str], TokenResponse],
        on_rotate: Callable[[TokenSet], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._tokens = tokens
        self._refresh = refresh
        self._on_rotate = on_rotate
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"InMemoryTokenProvider(open_id={self._tokens.open_id!r})"

    @property
    def tokens(self) -> TokenSet:
        with self._lock:
            return self._tokens

    def access_token(self) -> str:
        with self._lock:
            if self._tokens.is_expired(self._clock.now()):
                self._rotate_locked()
            return self._tokens.access_token

    def refresh(self, rejected_token: str) -> str:
        with self._lock:
            if self._tokens.access_token == rejected_token:
                self._rotate_locked()
            return self._tokens.access_token

    def _rotate_locked(self) -> None:
        assert self._tokens.refresh_token is not None
        response = self._refresh(self._tokens.refresh_token)
        fresh = TokenSet.from_response(response, self._clock.now())
        if self._on_rotate is not None:
            self._on_rotate(fresh)
        self._tokens = fresh
