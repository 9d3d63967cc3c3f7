"""Typed errors raised by the storage layer, each carrying what a person needs to act."""

from __future__ import annotations


class StorageError(Exception):
    """Base class for storage errors."""


class InvalidAccountKey(StorageError, ValueError):
    """An account key that cannot be used as (part of) a Dagster partition key."""


class AccountExists(StorageError):
    """An account with this key is already registered."""

    def __init__(self, account_key: str) -> None:
        super().__init__(
            f"account {account_key!r} already exists; choose another key or remove it first"
        )
        self.account_key = account_key


class AccountNotFound(StorageError, LookupError):
    """No account is registered under this key."""

    def __init__(self, account_key: str) -> None:
        super().__init__(f"no account {account_key!r}; register it with `tiktok-etl accounts add`")
        self.account_key = account_key


class TokenDecryptError(StorageError):
    """Stored tokens cannot be decrypted with the configured key."""

    def __init__(self, account_key: str | None = None) -> None:
        subject = f"tokens of account {account_key!r}" if account_key else "tokens"
        super().__init__(
            f"cannot decrypt {subject}: tokens were encrypted with a different "
            "TIKTOK_ETL_TOKEN_KEY (or the key file under TIKTOK_ETL_HOME changed); "
            "restore the original key or re-authorize the account"
        )
        self.account_key = account_key


class TokenLockTimeout(StorageError, TimeoutError):
    """Another worker held an account's token lock for longer than the caller would wait."""

    def __init__(self, account_key: str, timeout: float) -> None:
        super().__init__(
            f"token lock of account {account_key!r} still held by another worker after {timeout}s"
        )
        self.account_key = account_key


class MigrationError(StorageError):
    """A schema migration failed; its transaction was rolled back."""

    def __init__(self, version: str, cause: BaseException) -> None:
        super().__init__(f"migration {version} failed and was rolled back: {cause}")
        self.version = version


class PartitionWriteError(StorageError):
    """PostgreSQL refused a partition's rows; the partition keeps its previous content."""

    def __init__(self, table: str, account_key: str, day: str, cause: BaseException) -> None:
        super().__init__(f"{table} partition {account_key}|{day} not written: {cause}")
        self.table = table
        self.account_key = account_key
        self.day = day
