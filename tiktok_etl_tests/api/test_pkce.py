"""PKCE verifiers and challenges (RFC 7636 and TikTok's desktop hex variant), and state."""

from __future__ import annotations

import hashlib
import re

import pytest

from tiktok_etl.api import PkcePair, new_state

RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_s256_challenge_matches_rfc_7636_appendix_b() -> None:
    assert PkcePair.from_verifier(RFC_VERIFIER).challenge == RFC_CHALLENGE


def test_hex_challenge_is_the_lowercase_hex_sha256_of_the_verifier() -> None:
    pair = PkcePair.from_verifier(RFC_VERIFIER, "hex")

    assert pair.challenge == hashlib.sha256(RFC_VERIFIER.encode()).hexdigest()
    assert pair.challenge == pair.challenge.lower()
    assert pair.code_challenge_method == "S256"


@pytest.mark.parametrize("method", ["S256", "hex"])
def test_generated_verifiers_are_valid_and_unique(method: str) -> None:
    pairs = [PkcePair.generate(method) for _ in range(20)]  # type: ignore[arg-type]

    for pair in pairs:
        assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", pair.verifier)
        assert pair.challenge == PkcePair.from_verifier(pair.verifier, pair.method).challenge
    assert len({pair.verifier for pair in pairs}) == 20


def test_the_verifier_stays_out_of_the_repr() -> None:
    pair = PkcePair.from_verifier(RFC_VERIFIER)

    assert RFC_VERIFIER not in repr(pair)


@pytest.mark.parametrize("verifier", ["short", "x" * 129, "a" * 42 + "!"])
def test_invalid_verifiers_are_refused(verifier: str) -> None:
    with pytest.raises(ValueError):
        PkcePair.from_verifier(verifier)


def test_states_are_url_safe_and_unique() -> None:
    states = {new_state() for _ in range(50)}

    assert len(states) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{40,}", state) for state in states)
