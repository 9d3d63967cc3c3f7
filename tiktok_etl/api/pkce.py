"""PKCE (RFC 7636) verifiers and challenges, plus OAuth `state` values.

TikTok's web and mobile docs use the RFC's S256 challenge (base64url of the
SHA-256 digest, unpadded); its desktop docs use the lowercase hex SHA-256 of
the verifier instead. Both send `code_challenge_method=S256` on the wire.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Literal

ChallengeFormat = Literal["S256", "hex"]

CODE_CHALLENGE_METHOD = "S256"
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def new_state() -> str:
    """An unguessable OAuth `state` value (CSRF protection)."""
    return secrets.token_urlsafe(32)


def challenge_for(verifier: str, method: ChallengeFormat = "S256") -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if method == "hex":
        return digest.hex()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class PkcePair:
    """A code verifier (kept secret until the token exchange) and its challenge."""

    verifier: str = field(repr=False)
    challenge: str
    method: ChallengeFormat = "S256"

    @property
    def code_challenge_method(self) -> str:
        return CODE_CHALLENGE_METHOD

    @classmethod
    def generate(cls, method: ChallengeFormat = "S256") -> PkcePair:
        # 48 random bytes -> 64 characters of the unreserved set
        return cls.from_verifier(secrets.token_urlsafe(48), method)

    @classmethod
    def from_verifier(cls, verifier: str, method: ChallengeFormat = "S256") -> PkcePair:
        if not _VERIFIER.fullmatch(verifier):
            raise ValueError("a PKCE verifier is 43-128 characters of [A-Za-z0-9-._~]")
        if method not in ("S256", "hex"):
            raise ValueError(f"unknown PKCE challenge format {method!r}")
        return cls(verifier=verifier, challenge=challenge_for(verifier, method), method=method)
