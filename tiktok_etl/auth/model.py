"""The one token model and the one rule for "expired" and "due for refresh".

`TokenSet` is an access/refresh pair with absolute expiry times, parsed from either API
family's token response by :meth:`TokenSet.from_response`; `StoredTokens` adds what the
store's compare-and-swap needs. Every expiry decision (the request path, the refresh job,
the sensor's schedule) goes through :meth:`TokenSet.is_expired` and
:meth:`TokenSet.refresh_due_at`, so there is one skew and one fraction rule.

Token values are excluded from ``repr``/``str`` and never appear in an error raised here.
This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tiktok_etl.api.errors import OAuthError

# refresh a little before the stored expiry: a request in flight must not outlive its token
EXPIRY_SKEW = timedelta(seconds=60)


def parse_scopes(value: Iterable[str] | str | None) -> tuple[str, ...]:
    """TikTok's scope list (``"user.info.basic,video.list"``, space- or comma-separated, or a
    sequence) as a tuple without blanks or repeats, in the order given."""
    if value is None:
        return ()
    parts = value.replace(" ", ",").split(",") if isinstance(value, str) else value
    return tuple(dict.fromkeys(str(part).strip() for part in parts if str(part).strip()))


def validate_refresh_fraction(fraction: float) -> float:
    """The share of an access token's lifetime left at which it is refreshed: (0, 1]."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be within (0, 1], got {fraction}")
    return float(fraction)


def clean_token(value: str, name: str = "token") -> str:
    """``value`` stripped of surrounding whitespace; ValueError (naming ``name``, never the
    value) if what remains is empty or holds whitespace or control characters, which no
    TikTok token does and which would break (and leak through) the HTTP header."""
    cleaned = value.strip()
    if not cleaned:
        raise ValueError(f"the {name} is empty")
    bad = [c for c in cleaned if c.isspace() or not c.isprintable()]
    if bad:
        raise ValueError(
            f"the {name} contains whitespace or control characters "
            f"({', '.join(sorted({repr(c) for c in bad}))}); copy the token again without them"
        )
    return cleaned


def cleaned_tokens(tokens: TokenSet) -> TokenSet:
    """``tokens`` with both tokens checked by :func:`clean_token` (stripped if needed)."""
    access = clean_token(tokens.access_token, "access token")
    refresh = (
        None if tokens.refresh_token is None else clean_token(tokens.refresh_token, "refresh token")
    )
    if access == tokens.access_token and refresh == tokens.refresh_token:
        return tokens
    return replace(tokens, access_token=access, refresh_token=refresh)


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


def _token_text(payload: Mapping[str, Any], key: str) -> str:
    try:
        return clean_token(_required_text(payload, key), key)
    except ValueError as exc:
        raise OAuthError("invalid_token_response", str(exc)) from None


def _after(start: datetime, seconds: int | None) -> datetime | None:
    return None if seconds is None else start + timedelta(seconds=seconds)


def _aware(name: str, moment: datetime | None) -> None:
    if moment is not None and moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True, kw_only=True)
class TokenSet:
    """An access/refresh token pair with absolute expiry times (all timezone-aware).

    ``expires_at`` and ``refresh_expires_at`` default to ``issued_at`` plus the lifetimes.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    open_id: str | None = None
    scopes: tuple[str, ...] = ()
    token_type: str | None = None
    issued_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    expires_in: int | None = None
    refresh_expires_in: int | None = None
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.access_token:
            raise ValueError("access_token is required")
        for name in ("issued_at", "expires_at", "refresh_expires_at"):
            _aware(name, getattr(self, name))
        if self.issued_at is None:
            raise ValueError("issued_at must be timezone-aware")
        object.__setattr__(self, "scopes", parse_scopes(self.scopes))
        if self.expires_at is None:
            object.__setattr__(self, "expires_at", _after(self.issued_at, self.expires_in))
        if self.refresh_expires_at is None:
            object.__setattr__(
                self, "refresh_expires_at", _after(self.issued_at, self.refresh_expires_in)
            )

    @classmethod
    def from_response(cls, payload: Mapping[str, Any], now: datetime) -> TokenSet:
        """Parse a Display token response, a Business envelope's ``data``, or a whole envelope.

        Display sends ``refresh_expires_in``; Business sends ``refresh_token_expires_in``.
        Raises `OAuthError` (never showing token values) when the payload is unusable.
        """
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        if "access_token" not in payload and isinstance(payload.get("data"), Mapping):
            payload = payload["data"]
        expires_in = _seconds(payload, "expires_in")
        if expires_in is None:
            raise OAuthError("invalid_token_response", "token response lacks expires_in")
        return cls(
            access_token=_token_text(payload, "access_token"),
            refresh_token=_token_text(payload, "refresh_token"),
            open_id=_required_text(payload, "open_id"),
            scopes=parse_scopes(payload.get("scope")),
            token_type=str(payload.get("token_type") or "Bearer"),
            issued_at=now,
            expires_in=expires_in,
            refresh_expires_in=_seconds(payload, "refresh_expires_in", "refresh_token_expires_in"),
        )

    def lifetime(self) -> timedelta | None:
        """The access token's full lifetime: ``expires_in``, else ``expires_at - issued_at``."""
        if self.expires_in is not None:
            return timedelta(seconds=self.expires_in)
        if self.expires_at is not None:
            return self.expires_at - self.issued_at
        return None

    def expiry_skew(self) -> timedelta:
        """How long before ``expires_at`` the token counts as expired: 60 s, or half the
        lifetime for shorter-lived tokens (a 60-second token is not refreshed on every call)."""
        lifetime = self.lifetime()
        return EXPIRY_SKEW if lifetime is None else min(EXPIRY_SKEW, lifetime / 2)

    def is_expired(self, now: datetime) -> bool:
        """True once less than the skew is left before the access token expires (unknown
        expiry: False)."""
        if self.expires_at is None:
            return False  # unknown lifetime: use it until TikTok rejects it
        return self.expires_at - now < self.expiry_skew()

    def refresh_due_at(self, fraction: float) -> datetime | None:
        """When a refresh falls due: once less than ``fraction`` of the reported lifetime is
        left, and at the latest when the token counts as expired (None: unknown expiry)."""
        fraction = validate_refresh_fraction(fraction)
        lifetime = self.lifetime()
        if self.expires_at is None or lifetime is None:
            return None
        return self.expires_at - max(lifetime * fraction, self.expiry_skew())

    def is_due(self, fraction: float, now: datetime) -> bool:
        """True once :meth:`refresh_due_at` has passed: the one "due" rule of the request path,
        the refresh job and the sensor's schedule."""
        due_at = self.refresh_due_at(fraction)
        return due_at is not None and due_at < now


@dataclass(frozen=True, kw_only=True)
class StoredTokens(TokenSet):
    """Tokens as stored for an account; ``version`` is what compare-and-swap checks."""

    account_key: str
    version: int
    updated_at: datetime | None = None
