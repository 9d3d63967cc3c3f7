"""Detect a lost or changed token key at start-up, not at the first token use.

A row of ``tiktok_etl_meta`` (``token_key_check``) holds a known plaintext encrypted with
the token key; never the key. :func:`check_token_key` decrypts it (writing it on first
use) and raises :class:`TokenKeyMismatch`, saying what to do, when no configured key opens
it. ``tiktok-etl keys rotate`` re-encrypts it together with the tokens.
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptography.fernet import InvalidToken

from tiktok_etl.auth.store import KEY_ENV_VAR, TokenCipher
from tiktok_etl.settings import ConfigError
from tiktok_etl.storage.errors import TokenDecryptError

KEY_CHECK_NAME = "token_key_check"
KEY_CHECK_PLAINTEXT = "tiktok-etl token key check v1"


class TokenKeyMismatch(ConfigError):
    """The configured token key is not the one the stored tokens were encrypted with."""

    def __init__(self) -> None:
        super().__init__(
            f"{KEY_ENV_VAR} (or the key file $TIKTOK_ETL_HOME/token.key) is not the key the "
            "stored tokens were encrypted with: the key was lost or changed. Restore the "
            f"original key; or, if you hold the old key, set {KEY_ENV_VAR}=<new key>,<old "
            "key> and run `tiktok-etl keys rotate`; or, if the old key is gone, run "
            "`tiktok-etl keys reset` (forgets every stored token) and re-authorize each "
            "account with `tiktok-etl auth login`."
        )


def _read(conn: sa.Connection) -> bytes | None:
    value = conn.execute(
        sa.text("SELECT value FROM tiktok_etl_meta WHERE name = :name"), {"name": KEY_CHECK_NAME}
    ).scalar()
    return None if value is None else bytes(value)


def _write(conn: sa.Connection, value: bytes) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO tiktok_etl_meta (name, value) VALUES (:name, :value) "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
        ),
        {"name": KEY_CHECK_NAME, "value": value},
    )


def check_token_key(engine: sa.Engine, cipher: TokenCipher) -> None:
    """Raise :class:`TokenKeyMismatch` unless ``cipher`` opens the stored fingerprint.

    No fingerprint yet (a new database, or one from before it existed): one stored token is
    decrypted instead, and the fingerprint is written under the newest key.
    """
    with engine.begin() as conn:
        stored = _read(conn)
        if stored is not None:
            try:
                if cipher.decrypt(stored) != KEY_CHECK_PLAINTEXT:
                    raise TokenKeyMismatch()
            except TokenDecryptError:
                raise TokenKeyMismatch() from None
            return
        sample = conn.execute(
            sa.text("SELECT access_token_enc FROM tiktok_tokens LIMIT 1")
        ).scalar()
        if sample is not None:
            try:
                cipher.decrypt(bytes(sample))
            except TokenDecryptError:
                raise TokenKeyMismatch() from None
        conn.execute(
            sa.text(
                "INSERT INTO tiktok_etl_meta (name, value) VALUES (:name, :value) "
                "ON CONFLICT (name) DO NOTHING"
            ),
            {"name": KEY_CHECK_NAME, "value": cipher.encrypt(KEY_CHECK_PLAINTEXT)},
        )


def rotate_fingerprint(engine: sa.Engine, cipher: TokenCipher) -> None:
    """Re-encrypt the fingerprint under the newest key (written if missing)."""
    with engine.begin() as conn:
        stored = _read(conn)
        if stored is None:
            _write(conn, cipher.encrypt(KEY_CHECK_PLAINTEXT))
            return
        try:
            _write(conn, cipher.rotate(stored))
        except InvalidToken:
            raise TokenKeyMismatch() from None


def reset_fingerprint(engine: sa.Engine, cipher: TokenCipher) -> None:
    """Forget every stored token (undecryptable) and write the fingerprint of ``cipher``."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM tiktok_tokens"))
        conn.execute(
            sa.text(
                "UPDATE tiktok_accounts SET status = 'reauth_required', "
                "status_reason = 'token key reset: tokens forgotten' WHERE status = 'active'"
            )
        )
        _write(conn, cipher.encrypt(KEY_CHECK_PLAINTEXT))
