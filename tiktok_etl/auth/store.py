"""``tiktok_tokens``: OAuth tokens encrypted at rest, with the bookkeeping a safe refresh needs.

Tokens are Fernet-encrypted before they reach SQL; only this module sees them in clear, and
nothing it builds (reprs, exceptions, logs) shows them. Refresh tokens rotate, so a refresh
is: take :meth:`TokenStore.lock` (a session-level advisory lock per account), re-read with
:meth:`TokenStore.load`, call the API, and write with :meth:`TokenStore.compare_and_swap`
against the version read. Two workers racing end with one valid pair.

A rotated pair is the account's only valid refresh token, so :meth:`persist_rotated`
first writes it to an encrypted recovery file (:mod:`tiktok_etl.auth.recovery`), then
commits it in its own short, retried transaction, then deletes the file: a process killed
in between, or a database that cannot be reached, leaves the file for the next start to
replay. A version conflict keeps whichever pair was issued last.

``TIKTOK_ETL_TOKEN_KEY`` may hold several comma-separated keys, newest first
(:class:`cryptography.fernet.MultiFernet`): the first encrypts, all decrypt.
Every token value loaded or saved is registered with :func:`tiktok_etl.api.redaction.
register_secret`, so no error text can carry it.
"""

from __future__ import annotations

import logging
import os
import stat
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tiktok_etl.api.redaction import register_secret
from tiktok_etl.auth.model import StoredTokens, TokenSet, cleaned_tokens
from tiktok_etl.auth.recovery import RecoveryJournal
from tiktok_etl.storage.errors import AccountNotFound, TokenDecryptError, TokenLockTimeout
from tiktok_etl.storage.locks import LockTimeout, advisory_lock

_log = logging.getLogger(__name__)

KEY_ENV_VAR = "TIKTOK_ETL_TOKEN_KEY"


# a rotated pair's commit: this many attempts, short pauses (the pair waits in its file)
PERSIST_ATTEMPTS = 3
PERSIST_PAUSE_SECONDS = 0.2


class TokenPersistError(RuntimeError):
    """A rotated pair could not be committed; it waits in a recovery file (named here)."""


class TokenCipher:
    """Fernet encryption of token strings. The key never appears in reprs or errors.

    Several keys (newest first): the first encrypts, every one decrypts.
    """

    def __init__(self, key: bytes | Sequence[bytes]) -> None:
        keys = [key] if isinstance(key, bytes) else list(key)
        if not keys:
            raise ValueError("at least one key is required")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self.key_count = len(keys)

    def __repr__(self) -> str:
        return "TokenCipher(key=<redacted>)"

    @staticmethod
    def generate_key() -> bytes:
        return Fernet.generate_key()

    @classmethod
    def from_env_value(cls, value: str) -> TokenCipher:
        """A cipher from the ``TIKTOK_ETL_TOKEN_KEY`` value; ValueError (without the value)
        if it is not a Fernet key."""
        keys = [part.strip() for part in value.split(",") if part.strip()]
        try:
            return cls([part.encode("ascii") for part in keys])
        except (ValueError, TypeError, UnicodeEncodeError):
            raise ValueError(
                f"{KEY_ENV_VAR} is not a valid Fernet key: expected 32 bytes in url-safe "
                "base64 (44 characters). Generate one with `tiktok-etl keygen`"
            ) from None

    @classmethod
    def load_or_create(cls, path: Path) -> TokenCipher:
        """The key stored at ``path``, generated there (mode 0600) if missing.

        Creation is atomic and exclusive: the key is written to a private temporary file
        and hard-linked into place, so concurrent first calls agree on one key and no
        reader ever sees a partial file.
        """
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _create_key_file(path, cls.generate_key())
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            _log.warning("token key file %s is readable by others (mode %o)", path, mode)
        try:
            return cls(path.read_bytes().strip())
        except (ValueError, TypeError):
            raise ValueError(
                f"token key file {path} does not hold a valid Fernet key; restore it or set "
                f"{KEY_ENV_VAR}"
            ) from None

    def encrypt(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode("utf-8"))

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted under the newest key (InvalidToken if no key opens it)."""
        return self._fernet.rotate(bytes(token))

    def decrypt(self, token: bytes, account_key: str | None = None) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken:
            raise TokenDecryptError(account_key) from None


def _create_key_file(path: Path, key: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process created it first: use theirs
    finally:
        temporary.unlink(missing_ok=True)


@dataclass(frozen=True)
class RefreshDue:
    """When an account's access token should be refreshed (no token values)."""

    account_key: str
    version: int
    expires_at: datetime
    refresh_expires_at: datetime | None
    due_at: datetime

    def is_due(self, now: datetime) -> bool:
        return self.due_at < now


_TOKEN_PARAMS = (
    "access_token_enc, refresh_token_enc, open_id, scopes, token_type, issued_at, "
    "expires_at, refresh_expires_at, expires_in, refresh_expires_in"
)


class TokenStore:
    """Encrypted token persistence, per-account refresh locks and the refresh schedule."""

    def __init__(
        self, engine: sa.Engine, cipher: TokenCipher, recovery_dir: Path | None = None
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.recovery = None if recovery_dir is None else RecoveryJournal(recovery_dir, cipher)

    def __repr__(self) -> str:
        return f"TokenStore(engine={self.engine!r})"

    def _params(self, account_key: str, tokens: TokenSet) -> dict[str, Any]:
        register_secret(tokens.access_token)
        register_secret(tokens.refresh_token)
        return {
            "account_key": account_key,
            "access_token_enc": self.cipher.encrypt(tokens.access_token),
            "refresh_token_enc": (
                None if tokens.refresh_token is None else self.cipher.encrypt(tokens.refresh_token)
            ),
            "open_id": tokens.open_id,
            "scopes": list(tokens.scopes),
            "token_type": tokens.token_type,
            "issued_at": tokens.issued_at,
            "expires_at": tokens.expires_at,
            "refresh_expires_at": tokens.refresh_expires_at,
            "expires_in": tokens.expires_in,
            "refresh_expires_in": tokens.refresh_expires_in,
        }

    def save(self, account_key: str, tokens: TokenSet) -> StoredTokens:
        """Store the pair unconditionally (insert, or replace with version + 1).

        The tokens are stripped and validated first (ValueError: whitespace or control
        characters inside a token)."""
        tokens = cleaned_tokens(tokens)
        values = ", ".join(f":{name.strip()}" for name in _TOKEN_PARAMS.split(","))
        updates = ", ".join(
            f"{name.strip()} = EXCLUDED.{name.strip()}" for name in _TOKEN_PARAMS.split(",")
        )
        statement = sa.text(
            f"INSERT INTO tiktok_tokens (account_key, {_TOKEN_PARAMS}, version) "
            f"VALUES (:account_key, {values}, 1) "
            f"ON CONFLICT (account_key) DO UPDATE SET {updates}, "
            "version = tiktok_tokens.version + 1, updated_at = now() "
            "RETURNING version, updated_at"
        )
        try:
            with self.engine.begin() as conn:
                stored: Any = conn.execute(statement, self._params(account_key, tokens)).one()
                version, updated_at = stored
        except sa.exc.IntegrityError as exc:
            if isinstance(exc.orig, psycopg.errors.ForeignKeyViolation):
                raise AccountNotFound(account_key) from None
            raise
        return _stored(account_key, tokens, version, updated_at)

    def load(self, account_key: str) -> StoredTokens | None:
        """The account's tokens decrypted, or None; TokenDecryptError on a wrong key."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    f"SELECT {_TOKEN_PARAMS}, version, updated_at "
                    "FROM tiktok_tokens WHERE account_key = :key"
                ),
                {"key": account_key},
            ).first()
        if row is None:
            return None
        values = row._asdict()
        refresh_enc = values.pop("refresh_token_enc")
        access = self.cipher.decrypt(values.pop("access_token_enc"), account_key)
        refresh = None if refresh_enc is None else self.cipher.decrypt(refresh_enc, account_key)
        register_secret(access)
        register_secret(refresh)
        return StoredTokens(
            account_key=account_key, access_token=access, refresh_token=refresh, **values
        )

    def persist_rotated(
        self, account_key: str, expected_version: int, fresh: TokenSet
    ) -> StoredTokens:
        """Make a pair TikTok just issued durable before anything uses it.

        Recovery file first, then one short transaction (retried), then the file goes. If
        the stored pair changed since ``expected_version`` (the lock was bypassed), the pair
        issued last wins; the fresh one is never thrown away for an older one. Raises
        :class:`TokenPersistError` (naming the recovery file) if the database stays
        unreachable.
        """
        fresh = cleaned_tokens(fresh)
        path = None if self.recovery is None else self.recovery.write(account_key, fresh)
        error: Exception | None = None
        for attempt in range(PERSIST_ATTEMPTS):
            if attempt:
                time.sleep(PERSIST_PAUSE_SECONDS * attempt)
            try:
                self._commit_rotated(account_key, expected_version, fresh)
                break
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                error = exc
                _log.warning(
                    "saving the rotated tokens of %s failed (attempt %d of %d): %s",
                    account_key,
                    attempt + 1,
                    PERSIST_ATTEMPTS,
                    type(exc).__name__,
                )
        else:
            where = f"; they wait in {path} and are replayed at the next start" if path else ""
            raise TokenPersistError(
                f"the database did not accept the rotated tokens of {account_key!r} "
                f"({type(error).__name__}){where}"
            ) from None
        if path is not None:
            path.unlink(missing_ok=True)
        stored = self.load(account_key)
        assert stored is not None
        return stored

    def _commit_rotated(self, account_key: str, expected_version: int, fresh: TokenSet) -> bool:
        """One transaction: write ``fresh`` if the row is at ``expected_version`` or holds an
        older pair; True if written, False if a newer pair was already stored."""
        assignments = ", ".join(f"{n.strip()} = :{n.strip()}" for n in _TOKEN_PARAMS.split(","))
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT version, issued_at FROM tiktok_tokens "
                    "WHERE account_key = :key FOR UPDATE"
                ),
                {"key": account_key},
            ).first()
            if row is None:
                raise AccountNotFound(account_key)
            if row.version != expected_version:
                if row.issued_at is not None and row.issued_at >= fresh.issued_at:
                    _log.warning(
                        "tokens of %s changed under the refresh lock; keeping the newer pair "
                        "already stored",
                        account_key,
                    )
                    return False
                _log.warning(
                    "tokens of %s changed under the refresh lock; storing the newer pair",
                    account_key,
                )
            conn.execute(
                sa.text(
                    f"UPDATE tiktok_tokens SET {assignments}, version = version + 1, "
                    "updated_at = now() WHERE account_key = :account_key"
                ),
                self._params(account_key, fresh),
            )
        return True

    def replay_recovered(self, account_key: str | None = None) -> int:
        """Commit pairs waiting in recovery files (one account, or all); returns how many
        were written. A recovered pair replaces the stored one only if issued later."""
        if self.recovery is None:
            return 0
        written = 0
        for entry in self.recovery.entries(account_key):
            try:
                stored = self.load(entry.account_key)
            except TokenDecryptError:
                stored = None
            if stored is not None and stored.issued_at >= entry.tokens.issued_at:
                entry.path.unlink(missing_ok=True)  # the database already has this or newer
                continue
            try:
                self.save(entry.account_key, entry.tokens)
            except AccountNotFound:
                _log.warning("recovered tokens of removed account %s dropped", entry.account_key)
                entry.path.unlink(missing_ok=True)
                continue
            _log.warning("replayed rotated tokens of %s from %s", entry.account_key, entry.path)
            entry.path.unlink(missing_ok=True)
            written += 1
        return written

    def replay_all_recovered(self) -> int:
        """:meth:`replay_recovered` for every account with a waiting pair, each under its
        refresh lock (start-up)."""
        if self.recovery is None:
            return 0
        keys = dict.fromkeys(entry.account_key for entry in self.recovery.entries())
        written = 0
        for key in keys:
            with self.lock(key):
                written += self.replay_recovered(key)
        return written

    def rotate_key(self) -> int:
        """Re-encrypt every stored token under the newest key; returns the tokens' count."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT account_key, access_token_enc, refresh_token_enc "
                    "FROM tiktok_tokens FOR UPDATE"
                )
            ).all()
            for row in rows:
                try:
                    access = self.cipher.rotate(row.access_token_enc)
                    refresh = (
                        None
                        if row.refresh_token_enc is None
                        else self.cipher.rotate(row.refresh_token_enc)
                    )
                except InvalidToken:
                    raise TokenDecryptError(row.account_key) from None
                conn.execute(
                    sa.text(
                        "UPDATE tiktok_tokens SET access_token_enc = :a, refresh_token_enc = :r "
                        "WHERE account_key = :key"
                    ),
                    {"a": access, "r": refresh, "key": row.account_key},
                )
        return len(rows)

    def compare_and_swap(self, account_key: str, expected_version: int, new: TokenSet) -> bool:
        """Replace the pair only if it is still at ``expected_version``; False otherwise."""
        assignments = ", ".join(f"{n.strip()} = :{n.strip()}" for n in _TOKEN_PARAMS.split(","))
        with self.engine.begin() as conn:
            updated = conn.execute(
                sa.text(
                    f"UPDATE tiktok_tokens SET {assignments}, version = version + 1, "
                    "updated_at = now() "
                    "WHERE account_key = :account_key AND version = :expected_version"
                ),
                {**self._params(account_key, new), "expected_version": expected_version},
            ).rowcount
        return updated == 1

    def delete(self, account_key: str) -> bool:
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    sa.text("DELETE FROM tiktok_tokens WHERE account_key = :key"),
                    {"key": account_key},
                ).rowcount
            )

    @contextmanager
    def lock(self, account_key: str, *, timeout: float | None = None) -> Iterator[None]:
        """Hold the account's refresh lock (blocking; TokenLockTimeout after ``timeout`` s).

        The lock is session-level on a dedicated autocommit connection, so no transaction
        stays open during the HTTP call; it is released on exit, or by the server if the
        process dies.
        """
        try:
            with advisory_lock(self.engine, f"tiktok_etl:token:{account_key}", timeout=timeout):
                yield
        except LockTimeout:
            raise TokenLockTimeout(account_key, timeout or 0) from None

    def refresh_schedule(self, within_fraction: float) -> list[RefreshDue]:
        """Every active account with a known access-token expiry and when its refresh falls
        due (:meth:`TokenSet.refresh_due_at`), soonest due first. No token values are read."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT t.account_key, t.version, t.issued_at, t.expires_at, "
                    "t.refresh_expires_at, t.expires_in, t.refresh_expires_in "
                    "FROM tiktok_tokens t JOIN tiktok_accounts a USING (account_key) "
                    "WHERE a.status = 'active' AND t.expires_at IS NOT NULL"
                )
            ).all()
        schedule = []
        for row in rows:
            # the rule needs expiries only: a placeholder stands in for the unread token
            expiry = StoredTokens(access_token="<not read>", **row._asdict())
            due_at = expiry.refresh_due_at(within_fraction)
            assert expiry.expires_at is not None and due_at is not None
            schedule.append(
                RefreshDue(
                    expiry.account_key,
                    expiry.version,
                    expiry.expires_at,
                    expiry.refresh_expires_at,
                    due_at,
                )
            )
        return sorted(schedule, key=lambda entry: (entry.due_at, entry.account_key))


def _stored(account_key: str, tokens: TokenSet, version: int, updated_at: datetime) -> StoredTokens:
    values = {name.name: getattr(tokens, name.name) for name in fields(TokenSet)}
    return StoredTokens(account_key=account_key, version=version, updated_at=updated_at, **values)
