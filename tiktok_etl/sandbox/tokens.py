"""Sandbox OAuth: access tokens, rotating refresh tokens and authorization codes.

This is a simulation, not security. Tokens are self-describing and signed with an HMAC key
derived from the world seed, so any process that builds a sandbox with the same seed can
verify tokens another process issued (stateless verification):

    act.sbx.<base64url(json{open_id, family, scopes, exp, gen, nonce})>.<hmac>
    rft.sbx.<base64url(json{...})>.<hmac>

On top of that, a `TokenAuthority` keeps per-process state per (open_id, family): the latest
refresh generation it saw (strict rotation: presenting an older, already rotated refresh
token fails with invalid_grant), revocation floors and redeemed authorization codes.
Generations are microsecond timestamps (bumped to stay strictly increasing), so a pair
issued later by another process is never mistaken for a reused one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from tiktok_etl.sandbox.clock import NowSource, as_utc, utc_now

Family = Literal["display", "business"]
FAMILIES: tuple[Family, ...] = ("display", "business")

DISPLAY_SCOPES_ALL: tuple[str, ...] = (
    "user.info.basic",
    "user.info.profile",
    "user.info.stats",
    "video.list",
)
BUSINESS_SCOPES_ALL: tuple[str, ...] = (
    "video.publish",
    "comment.list.manage",
    "video.insights",
    "video.list",
    "user.insights",
    "user.info.basic",
    "user.info.username",
    "comment.list",
    "user.account.type",
    "user.info.stats",
)
SCOPES_ALL: dict[Family, tuple[str, ...]] = {
    "display": DISPLAY_SCOPES_ALL,
    "business": BUSINESS_SCOPES_ALL,
}

ACCESS_PREFIX = "act.sbx."
REFRESH_PREFIX = "rft.sbx."
CODE_PREFIX = "code.sbx."


class TokenRejected(Exception):
    """A token or code the sandbox will not accept; `reason` says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class AccessClaims:
    open_id: str
    family: Family
    scopes: tuple[str, ...]
    expires_at: int
    generation: int


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """One issued pair, renderable as either family's token response."""

    open_id: str
    family: Family
    scopes: tuple[str, ...]
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int

    def display_body(self) -> dict[str, Any]:
        """The flat `POST /v2/oauth/token/` body."""
        return {
            "access_token": self.access_token,
            "expires_in": self.expires_in,
            "open_id": self.open_id,
            "refresh_expires_in": self.refresh_expires_in,
            "refresh_token": self.refresh_token,
            "scope": ",".join(self.scopes),
            "token_type": "Bearer",
        }

    def business_data(self) -> dict[str, Any]:
        """The `data` object of `tt_user/oauth2/token/` and `refresh_token/`."""
        return {
            "access_token": self.access_token,
            "expires_in": self.expires_in,
            "open_id": self.open_id,
            "refresh_token": self.refresh_token,
            "refresh_token_expires_in": self.refresh_expires_in,
            "scope": ",".join(self.scopes),
            "token_type": "Bearer",
        }

    def body(self) -> dict[str, Any]:
        return self.display_body() if self.family == "display" else self.business_data()


@dataclass(slots=True)
class _Chain:
    latest: int = 0
    access_floor: int = 0
    refresh_floor: int = 0


@dataclass(frozen=True, slots=True)
class CodeGrant:
    open_id: str
    scopes: tuple[str, ...]
    redirect_uri: str


def signing_key(seed: int) -> bytes:
    return hashlib.sha256(f"tiktok-etl-sandbox-signing:{seed}".encode()).digest()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pkce_matches(challenge: str, method: str, verifier: str) -> bool:
    """RFC 7636 S256 (base64url), TikTok desktop's hex SHA-256, or plain."""
    if method.lower() == "plain":
        return hmac.compare_digest(challenge, verifier)
    digest = hashlib.sha256(verifier.encode()).digest()
    return any(
        hmac.compare_digest(challenge, candidate)
        for candidate in (_b64encode(digest), digest.hex())
    )


@dataclass
class TokenAuthority:
    """Issues and checks sandbox tokens. Thread-safe.

    `strict_rotation`: remember the newest refresh generation per (open_id, family) and
    reject older refresh tokens (reuse). Only this process's memory is consulted: a token
    issued by another process that this one never saw is accepted if its signature and
    expiry are good.
    """

    seed: int = 7
    clock: NowSource = utc_now
    access_token_ttl: int = 86_400
    refresh_token_ttl: int = 31_536_000
    code_ttl: int = 600
    strict_rotation: bool = True
    _key: bytes = field(init=False, repr=False)
    _chains: dict[tuple[str, str], _Chain] = field(init=False, default_factory=dict, repr=False)
    _redeemed: set[str] = field(init=False, default_factory=set, repr=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._key = signing_key(self.seed)

    # signing

    def _now(self) -> float:
        return as_utc(self.clock()).timestamp()

    def _sign(self, prefix: str, claims: dict[str, Any]) -> str:
        payload = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
        mac = hmac.new(self._key, f"{prefix}{payload}".encode(), hashlib.sha256).digest()
        return f"{prefix}{payload}.{_b64encode(mac[:18])}"

    def _open(self, prefix: str, token: str, *, check_expiry: bool = True) -> dict[str, Any]:
        if not token.startswith(prefix) or token.count(".") != 3:
            raise TokenRejected("invalid", "The token is malformed or not a sandbox token.")
        payload, _, signature = token[len(prefix) :].partition(".")
        mac = hmac.new(self._key, f"{prefix}{payload}".encode(), hashlib.sha256).digest()
        try:
            valid = hmac.compare_digest(_b64encode(mac[:18]), signature)
            claims = json.loads(_b64decode(payload)) if valid else None
        except (binascii.Error, ValueError):
            claims = None
        if not isinstance(claims, dict):
            raise TokenRejected("invalid", "The token signature does not verify.")
        if check_expiry and claims.get("exp", 0) <= self._now():
            raise TokenRejected("expired", "The token has expired.")
        return claims

    # tokens

    def _chain(self, open_id: str, family: str) -> _Chain:
        return self._chains.setdefault((open_id, family), _Chain())

    def _next_generation(self, chain: _Chain, floor: int = 0) -> int:
        generation = max(int(self._now() * 1_000_000), chain.latest + 1, floor + 1)
        chain.latest = generation
        return generation

    def _grant(
        self, open_id: str, family: Family, scopes: tuple[str, ...], generation: int
    ) -> TokenGrant:
        now = int(self._now())
        base = {"o": open_id, "f": family, "s": list(scopes), "g": generation}
        access = {**base, "exp": now + self.access_token_ttl, "n": secrets.token_hex(4)}
        refresh = {**base, "exp": now + self.refresh_token_ttl, "n": secrets.token_hex(4)}
        return TokenGrant(
            open_id=open_id,
            family=family,
            scopes=scopes,
            access_token=self._sign(ACCESS_PREFIX, access),
            refresh_token=self._sign(REFRESH_PREFIX, refresh),
            expires_in=self.access_token_ttl,
            refresh_expires_in=self.refresh_token_ttl,
        )

    def issue(
        self, open_id: str, family: Family = "display", scopes: Iterable[str] | None = None
    ) -> TokenGrant:
        """A fresh pair, as after a completed authorization; starts a new refresh chain."""
        granted = tuple(scopes) if scopes is not None else SCOPES_ALL[family]
        with self._lock:
            generation = self._next_generation(self._chain(open_id, family))
        return self._grant(open_id, family, granted, generation)

    def verify_access(self, token: str, family: Family) -> AccessClaims:
        """The claims of a live access token of `family`, else `TokenRejected`."""
        claims = self._open(ACCESS_PREFIX, token)
        if claims.get("f") != family:
            raise TokenRejected("invalid", "The token belongs to another API family.")
        with self._lock:
            chain = self._chains.get((claims["o"], family))
            if chain is not None and claims["g"] < chain.access_floor:
                raise TokenRejected("revoked", "The token has been revoked.")
        return AccessClaims(
            open_id=claims["o"],
            family=family,
            scopes=tuple(claims["s"]),
            expires_at=claims["exp"],
            generation=claims["g"],
        )

    def refresh(self, refresh_token: str, family: Family) -> TokenGrant:
        """Rotate: a new pair for a live refresh token; the presented one stops working."""
        claims = self._open(REFRESH_PREFIX, refresh_token)
        if claims.get("f") != family:
            raise TokenRejected("invalid", "The refresh token belongs to another API family.")
        open_id, generation = claims["o"], claims["g"]
        with self._lock:
            chain = self._chain(open_id, family)
            if generation < chain.refresh_floor:
                raise TokenRejected("revoked", "The refresh token has been revoked.")
            if self.strict_rotation and generation < chain.latest:
                raise TokenRejected("reused", "The refresh token has already been used.")
            new_generation = self._next_generation(chain, floor=generation)
        return self._grant(open_id, family, tuple(claims["s"]), new_generation)

    def revoke(self, token: str, family: Family) -> None:
        """Revoke an access or refresh token (even an expired one): the account's chain dies."""
        prefix = REFRESH_PREFIX if token.startswith(REFRESH_PREFIX) else ACCESS_PREFIX
        claims = self._open(prefix, token, check_expiry=False)
        if claims.get("f") != family:
            raise TokenRejected("invalid", "The token belongs to another API family.")
        with self._lock:
            chain = self._chain(claims["o"], family)
            floor = max(chain.latest, claims["g"]) + 1
            chain.access_floor = chain.refresh_floor = floor

    def revoke_refresh(self, open_id: str, family: Family) -> None:
        """Kill the account's refresh chain (access tokens live on until they expire)."""
        with self._lock:
            chain = self._chain(open_id, family)
            chain.refresh_floor = chain.latest + 1

    # authorization codes

    def issue_code(
        self,
        open_id: str,
        scopes: Iterable[str],
        redirect_uri: str,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
    ) -> str:
        claims = {
            "o": open_id,
            "s": list(scopes),
            "r": redirect_uri,
            "c": code_challenge,
            "m": code_challenge_method or "S256",
            "exp": int(self._now()) + self.code_ttl,
            "n": secrets.token_hex(6),
        }
        return self._sign(CODE_PREFIX, claims)

    def redeem_code(
        self, code: str, redirect_uri: str | None, code_verifier: str | None
    ) -> CodeGrant:
        """Check a code once: redirect URI, PKCE verifier, expiry. A code works only once."""
        try:
            claims = self._open(CODE_PREFIX, code)
        except TokenRejected as rejected:
            raise TokenRejected(rejected.reason, "Authorization code is expired.") from None
        if redirect_uri != claims["r"]:
            raise TokenRejected("invalid", "redirect_uri does not match the authorization.")
        if claims["c"]:
            if not code_verifier:
                raise TokenRejected("missing_verifier", "code_verifier is required.")
            if not pkce_matches(claims["c"], claims["m"], code_verifier):
                raise TokenRejected("invalid", "code_verifier does not match the challenge.")
        with self._lock:
            if code in self._redeemed:
                raise TokenRejected("reused", "Authorization code has already been used.")
            self._redeemed.add(code)
        return CodeGrant(open_id=claims["o"], scopes=tuple(claims["s"]), redirect_uri=claims["r"])


def issue_tokens(
    open_id: str,
    family: Family = "display",
    scopes: Iterable[str] | None = None,
    *,
    seed: int = 7,
    access_token_ttl: int = 86_400,
    refresh_token_ttl: int = 31_536_000,
    clock: NowSource | None = None,
) -> dict[str, Any]:
    """Register a sandbox account without the OAuth dance.

    Returns the Display token body (`family="display"`) or the Business token `data`
    object (`family="business"`). Any sandbox built with the same `seed` accepts the tokens.
    """
    authority = TokenAuthority(
        seed=seed,
        clock=clock or utc_now,
        access_token_ttl=access_token_ttl,
        refresh_token_ttl=refresh_token_ttl,
    )
    return authority.issue(open_id, family, scopes).body()
