"""OAuth token sets and the providers that hand access tokens to the clients.

`TokenSet` is the parsed answer of any token endpoint, with absolute expiry
times. A `TokenProvider` gives clients the current access token and refreshes
it when TikTok rejects it. `RefreshingTokenProvider` does that in memory for
one process; the orchestration layer supplies a provider backed by a locked
database row so that many processes share one rotating refresh token.
Token values live in `SecretStr` and never appear in a repr, str or log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import AwareDatetime, BaseModel, ConfigDict, SecretStr

from tiktok_etl.api.clock import Clock, SystemClock
from tiktok_etl.api.errors import OAuthError, TokenExpired

T = TypeVar("T")


def _parse_scopes(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        parts = value.replace(" ", ",").split(",")
    else:
        parts = [str(part) for part in value]
    return tuple(part.strip() for part in parts if part.strip())


def _seconds(payload: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = payload.get(key)
        if value is None or value == "":
            continue
        try:
            seconds = int(value)
        except (TypeError, ValueError):
            raise OAuthError("invalid_token_response", f"{key} is not a number") from None
        if seconds < 0:
            raise OAuthError("invalid_token_response", f"{key} is negative")
        return seconds
    return None


def _required_text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise OAuthError("invalid_token_response", f"token response lacks {key}")
    return value


class TokenSet(BaseModel):
    """An access/refresh token pair with absolute expiry times (all UTC)."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    access_token: SecretStr
    refresh_token: SecretStr
    open_id: str
    scopes: tuple[str, ...] = ()
    token_type: str = "Bearer"
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    refresh_expires_at: AwareDatetime | None = None
    expires_in: int
    refresh_expires_in: int | None = None

    @classmethod
    def from_response(cls, payload: Mapping[str, Any], now: datetime) -> TokenSet:
        """Parse a Display token response or a Business envelope's `data` object.

        Display sends `refresh_expires_in`; Business sends
        `refresh_token_expires_in`. A whole Business envelope is unwrapped.
        Raises `OAuthError` (never showing token values) when the payload is unusable.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if "access_token" not in payload and isinstance(payload.get("data"), Mapping):
            payload = payload["data"]
        expires_in = _seconds(payload, "expires_in")
        if expires_in is None:
            raise OAuthError("invalid_token_response", "token response lacks expires_in")
        refresh_expires_in = _seconds(payload, "refresh_expires_in", "refresh_token_expires_in")
        return cls(
            access_token=SecretStr(_required_text(payload, "access_token")),
            refresh_token=SecretStr(_required_text(payload, "refresh_token")),
            open_id=_required_text(payload, "open_id"),
            scopes=_parse_scopes(payload.get("scope")),
            token_type=str(payload.get("token_type") or "Bearer"),
            issued_at=now,
            expires_at=now + timedelta(seconds=expires_in),
            refresh_expires_at=(
                None if refresh_expires_in is None else now + timedelta(seconds=refresh_expires_in)
            ),
            expires_in=expires_in,
            refresh_expires_in=refresh_expires_in,
        )

    def access_expires_within(self, fraction: float, now: datetime) -> bool:
        """True when less than `fraction` of the access token's lifetime remains."""
        remaining = (self.expires_at - now).total_seconds()
        return remaining < fraction * self.expires_in

    def is_access_expired(self, now: datetime, skew_seconds: float = 30) -> bool:
        """True when the access token is expired, or will be within `skew_seconds`."""
        return now >= self.expires_at - timedelta(seconds=skew_seconds)

    def is_refresh_expired(self, now: datetime) -> bool:
        """True when the refresh token's reported lifetime is over (unknown lifetime: False)."""
        return self.refresh_expires_at is not None and now >= self.refresh_expires_at


@runtime_checkable
class TokenProvider(Protocol):
    """Where clients get access tokens from."""

    def access_token(self) -> str:
        """The access token to send now."""
        ...

    def refresh(self, rejected_token: str) -> str:
        """Return a fresh access token after TikTok rejected `rejected_token`.

        Another caller may already have refreshed; then return the new current
        token without refreshing again. Returning `rejected_token` itself means
        no fresher token can be had, and the client re-raises the rejection.
        """
        ...


class StaticTokenProvider:
    """A fixed access token that cannot be refreshed (scripts, tests, short jobs)."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    def __repr__(self) -> str:
        return "StaticTokenProvider(access_token=**********)"

    def access_token(self) -> str:
        return self._token

    def refresh(self, rejected_token: str) -> str:
        # nothing to refresh with: handing back the same token makes the client re-raise
        return self._token


class RefreshingTokenProvider:
    """An in-memory, thread-safe provider that refreshes and rotates a `TokenSet`.

    It refreshes before handing out an access token the clock says is expired,
    and when a client reports a rejected token that is still the current one.
    Concurrent callers that were rejected with the same token cause a single
    refresh. `on_rotate` receives every new `TokenSet` before it is used, so a
    caller can persist the rotated refresh token first.

    Example:
        provider = RefreshingTokenProvider(tokens, refresher=oauth.refresh, on_rotate=store.save)
    """

    def __init__(
        self,
        tokens: TokenSet,
        refresher: Callable[[str], TokenSet],
        on_rotate: Callable[[TokenSet], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._tokens = tokens
        self._refresher = refresher
        self._on_rotate = on_rotate
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RefreshingTokenProvider(open_id={self._tokens.open_id!r})"

    @property
    def tokens(self) -> TokenSet:
        with self._lock:
            return self._tokens

    def access_token(self) -> str:
        with self._lock:
            if self._tokens.is_access_expired(self._clock.now()):
                self._rotate_locked()
            return self._tokens.access_token.get_secret_value()

    def refresh(self, rejected_token: str) -> str:
        with self._lock:
            if self._tokens.access_token.get_secret_value() == rejected_token:
                self._rotate_locked()
            return self._tokens.access_token.get_secret_value()

    def _rotate_locked(self) -> None:
        fresh = self._refresher(self._tokens.refresh_token.get_secret_value())
        if self._on_rotate is not None:
            self._on_rotate(fresh)
        self._tokens = fresh


def call_with_refresh(tokens: TokenProvider, call: Callable[[str], T]) -> T:
    """Run `call(access_token)`; on `TokenExpired`, refresh once and run it again.

    A second rejection, or a provider that cannot produce a different token,
    raises the `TokenExpired`.
    """
    token = tokens.access_token()
    try:
        return call(token)
    except TokenExpired:
        fresh = tokens.refresh(token)
        if fresh == token:
            raise
    return call(fresh)
