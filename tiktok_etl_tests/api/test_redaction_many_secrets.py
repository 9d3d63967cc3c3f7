"""A process that loads many accounts' tokens (a batch run of hundreds of accounts) does not
rebuild the secrets pattern per token: registering is cheap, the next `redact` compiles once
(found by benchmarks/scale.py, where registering 1,000 accounts slowed to over a second each)."""

from __future__ import annotations

import re

import pytest

from tiktok_etl.api import redaction
from tiktok_etl.api.redaction import redact, register_secret


def test_many_registrations_compile_the_pattern_once(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    real_compile = re.compile

    def counting_compile(pattern: str, *args: object) -> re.Pattern[str]:
        compiled.append(pattern)
        return real_compile(pattern, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(redaction.re, "compile", counting_compile)
    secrets = [f"ManySecretsValue{n:05d}xyz" for n in range(200)]
    for secret in secrets:
        register_secret(secret)
    assert len(compiled) <= 1
    text = redact(f"a {secrets[0]} b {secrets[-1]} c")
    assert secrets[0] not in text and secrets[-1] not in text
    assert len(compiled) == 1
    redact(f"again {secrets[7]}")
    assert len(compiled) == 1
