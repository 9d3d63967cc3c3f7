"""Rotated token pairs waiting to reach PostgreSQL: encrypted 0600 files under the home.

TikTok rotates the refresh token the moment it answers a refresh, so the new pair is the
account's only valid one. :class:`RecoveryJournal` keeps it on local disk (Fernet, the
token key) from TikTok's answer until the database has committed it: a process killed in
between, or a database that cannot be reached, leaves the file, and the next start
(``open_runtime``, or the provider before its next refresh) replays it.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import InvalidToken

from tiktok_etl.auth.model import TokenSet
from tiktok_etl.storage.accounts import validate_account_key

if TYPE_CHECKING:
    from tiktok_etl.auth.store import TokenCipher

_log = logging.getLogger(__name__)

RECOVERY_DIR = "token_recovery"
_SUFFIX = ".tokens"
_TIMES = ("issued_at", "expires_at", "refresh_expires_at")


@dataclass(frozen=True)
class RecoveredTokens:
    account_key: str
    tokens: TokenSet
    path: Path


def _encode(account_key: str, tokens: TokenSet) -> str:
    values: dict[str, Any] = {f.name: getattr(tokens, f.name) for f in fields(TokenSet)}
    for name in _TIMES:
        if values[name] is not None:
            values[name] = values[name].isoformat()
    values["scopes"] = list(values["scopes"])
    return json.dumps({"account_key": account_key, "tokens": values})


def _decode(text: str) -> tuple[str, TokenSet]:
    document = json.loads(text)
    values = dict(document["tokens"])
    for name in _TIMES:
        if values.get(name) is not None:
            values[name] = datetime.fromisoformat(values[name])
    values["scopes"] = tuple(values.get("scopes") or ())
    return str(document["account_key"]), TokenSet(**values)


class RecoveryJournal:
    """One encrypted file per rotated pair not yet known to be committed."""

    def __init__(self, directory: Path, cipher: TokenCipher) -> None:
        self.directory = Path(directory)
        self._cipher = cipher

    def __repr__(self) -> str:
        return f"RecoveryJournal(directory={str(self.directory)!r})"

    def write(self, account_key: str, tokens: TokenSet) -> Path:
        """Durably write the pair (0600, fsynced, atomic rename); returns its file."""
        validate_account_key(account_key)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        stamp = int(tokens.issued_at.timestamp() * 1_000_000)
        path = self.directory / f"{account_key}.{stamp}.{uuid.uuid4().hex[:8]}{_SUFFIX}"
        temporary = path.with_name(f".{path.name}.tmp")
        data = self._cipher.encrypt(_encode(account_key, tokens))
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return path

    def entries(self, account_key: str | None = None) -> Iterator[RecoveredTokens]:
        """The waiting pairs (of one account, or all), oldest issued first."""
        if not self.directory.is_dir():
            return
        pattern = f"{account_key}.*{_SUFFIX}" if account_key else f"*{_SUFFIX}"
        found = []
        for path in self.directory.glob(pattern):
            try:
                key, tokens = _decode(self._cipher.decrypt(path.read_bytes()))
            except (InvalidToken, ValueError, KeyError, TypeError, OSError) as exc:
                _log.warning("token recovery file %s is unreadable (%s)", path, type(exc).__name__)
                continue
            except Exception as exc:  # TokenDecryptError: another key; keep the file
                _log.warning("token recovery file %s cannot be decrypted (%s)", path, exc)
                continue
            if account_key is None or key == account_key:
                found.append(RecoveredTokens(key, tokens, path))
        yield from sorted(found, key=lambda entry: entry.tokens.issued_at)
