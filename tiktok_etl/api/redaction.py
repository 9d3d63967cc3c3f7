"""Mask credentials in text before it reaches an exception message or a log line.

TikTok tokens carry recognisable prefixes (`act.`, `rft.`, `clt.`), and OAuth
requests and responses carry secrets under well-known keys. `redact` masks both
in free text (JSON, Python reprs, query strings, form bodies, headers). It is a
safety net for text we did not write ourselves: error messages should still be
built from known-safe fields first.

Patterns miss tokens without a prefix (Business tokens) in text nobody labelled, such as
h11's ``Illegal header value b'<token>\\r'``. So the process also keeps a registry of the
secret values it holds (:func:`register_secret`: tokens loaded or issued, app secrets),
and `redact` replaces every registered value wherever it appears, in clear or as it
appears inside a ``bytes``/``str`` repr.
"""

from __future__ import annotations

import logging
import re
import threading

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


# shorter values would mask ordinary words; no real token or secret is this short
MIN_SECRET_LENGTH = 8

_registry_lock = threading.Lock()
_registered: set[str] = set()
_registered_pattern: re.Pattern[str] | None = None
# compiled on the next `redact` after a registration, not at every registration: a process
# that loads thousands of accounts' tokens (a batch run) would otherwise recompile an
# ever-longer pattern per token, quadratic in the number of accounts
_pattern_stale = False


def _forms(value: str) -> set[str]:
    """The value, its stripped core, and how each shows inside a str or bytes repr."""
    forms = {value, value.strip()}
    for form in list(forms):
        forms.add(repr(form)[1:-1])
        forms.add(repr(form.encode("utf-8", "backslashreplace"))[2:-1])
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def register_secret(value: str | None) -> None:
    """Remember a secret value this process holds; `redact` masks it from now on."""
    global _pattern_stale
    if not value:
        return
    forms = _forms(value)
    with _registry_lock:
        if forms <= _registered:
            return
        _registered.update(forms)
        _pattern_stale = True


def _secrets_pattern() -> re.Pattern[str] | None:
    """One pattern of every registered form, longest first; rebuilt after registrations."""
    global _registered_pattern, _pattern_stale
    with _registry_lock:
        if _pattern_stale:
            ordered = sorted(_registered, key=len, reverse=True)
            _registered_pattern = re.compile("|".join(re.escape(form) for form in ordered))
            _pattern_stale = False
        return _registered_pattern


def registered_secret_count() -> int:
    """How many forms of secret values are registered (for tests and diagnostics)."""
    with _registry_lock:
        return len(_registered)


def redact(text: str) -> str:
    """Return `text` with anything that looks like a token, secret or code masked, and
    every registered secret value replaced."""
    pattern = _secrets_pattern()
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _QUOTED_VALUE.sub(lambda m: f"{m['prefix']}{m['q']}{MASK}{m['q']}", text)
    text = _PAIR_VALUE.sub(lambda m: f"{m['prefix']}{MASK}", text)
    text = _HEADER_VALUE.sub(lambda m: f"{m['prefix']}{MASK}", text)
    return _PREFIXED_TOKEN.sub(lambda m: f"{m['prefix']}{MASK}", text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's formatted message (and traceback
    text) before any handler sees it, the Dagster run log included.

    Attach it to the loggers whose own calls it must cover: a logger's filters do not see
    records propagated from its children."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
