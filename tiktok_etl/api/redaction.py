"""Mask credentials in text before it reaches an exception message or a log line.

TikTok tokens carry recognisable prefixes (`act.`, `rft.`, `clt.`), and OAuth
requests and responses carry secrets under well-known keys. `redact` masks both
in free text (JSON, Python reprs, query strings, form bodies, headers). It is a
safety net for text we did not write ourselves: error messages should still be
built from known-safe fields first.
"""

from __future__ import annotations

import re

MASK = "***"

SECRET_KEYS: tuple[str, ...] = (
    "access_token",
    "refresh_token",
    "client_secret",
    "app_secret",
    "code_verifier",
    "auth_code",
    "code",
    "token",
)

_KEYS = "|".join(sorted(SECRET_KEYS, key=len, reverse=True))

# "key": "value" (JSON) and 'key': 'value' (Python repr); numbers are left alone
_QUOTED_VALUE = re.compile(
    rf"""(?P<prefix>(?P<kq>["']?)\b(?:{_KEYS})\b(?P=kq)\s*:\s*)(?P<q>["'])(?:\\.|(?!(?P=q)).)*(?P=q)""",
    re.IGNORECASE,
)
# key=value in query strings and form bodies
_PAIR_VALUE = re.compile(rf"(?P<prefix>\b(?:{_KEYS})=)[^&\s\"'<>,;]+", re.IGNORECASE)
# Authorization: Bearer <token> / Access-Token: <token>
_HEADER_VALUE = re.compile(r"(?P<prefix>\b(?:Bearer|Access-Token:?)\s+)[^\s\"',;]+", re.IGNORECASE)
# act.xxx, rft.xxx, clt.xxx wherever they appear
_PREFIXED_TOKEN = re.compile(r"\b(?P<prefix>(?:act|rft|clt)\.)[A-Za-z0-9._~+/=!*%-]+")


def redact(text: str) -> str:
    """Return `text` with anything that looks like a token, secret or code masked."""
    text = _QUOTED_VALUE.sub(lambda m: f"{m['prefix']}{m['q']}{MASK}{m['q']}", text)
    text = _PAIR_VALUE.sub(lambda m: f"{m['prefix']}{MASK}", text)
    text = _HEADER_VALUE.sub(lambda m: f"{m['prefix']}{MASK}", text)
    return _PREFIXED_TOKEN.sub(lambda m: f"{m['prefix']}{MASK}", text)
