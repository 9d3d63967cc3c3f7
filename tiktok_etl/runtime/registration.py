"""Account registration and removal: the accounts table, the encrypted tokens and the
Dagster ``account`` partitions change together."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from tiktok_etl.auth.model import TokenSet
from tiktok_etl.runtime import Runtime, open_runtime
from tiktok_etl.storage.accounts import Account

log = logging.getLogger(__name__)

# the Dagster dynamic partitions that mirror the accounts table (defs/partitions.py uses it)
ACCOUNTS_PARTITIONS_NAME = "tiktok_accounts"


def sync_partitions(
    runtime: Runtime,
    partitions: str = ACCOUNTS_PARTITIONS_NAME,
    *,
    add: Sequence[str] = (),
    delete: Sequence[str] = (),
) -> None:
    """Update the Dagster dynamic ``partitions`` now, after their table changed; the table's
    sync sensor repairs them if this fails."""
    import dagster as dg

    runtime.export_env()
    try:
        with dg.DagsterInstance.get() as instance:
            if add:
                instance.add_dynamic_partitions(partitions, list(add))
            for key in delete:
                instance.delete_dynamic_partition(partitions, key)
    except Exception as exc:  # the table is the source of truth; the sensor catches up
        log.warning("could not update Dagster partitions now (%s); the sync sensor will", exc)


def register_account(
    *,
    account_key: str,
    api: str,
    tokens: TokenSet,
    tenant_id: int = 1,
    source_id: str | None = None,
    keywords: Sequence[str] = (),
    keyword_mode: str = "tag",
    runtime: Runtime | None = None,
) -> Account:
    runtime = runtime or open_runtime()
    account = runtime.accounts.add(
        Account(
            account_key=account_key,
            api=api,  # type: ignore[arg-type]
            open_id=tokens.open_id or "",  # Account refuses an empty one
            tenant_id=tenant_id,
            source_id=source_id,
            keywords=tuple(keywords),
            keyword_mode=keyword_mode,  # type: ignore[arg-type]
        )
    )
    runtime.tokens.save(account.account_key, tokens)
    sync_partitions(runtime, add=[account.account_key])
    return account


def remove_account(account_key: str, runtime: Runtime | None = None) -> None:
    runtime = runtime or open_runtime()
    runtime.accounts.remove(account_key)
    sync_partitions(runtime, delete=[account_key])


def describe_accounts(runtime: Runtime | None = None) -> list[tuple[str, ...]]:
    """One row per account for `accounts list`: status (with reason) and token expiry."""
    runtime = runtime or open_runtime()
    now = datetime.now(UTC)
    rows: list[tuple[str, ...]] = []
    for account in runtime.accounts.list():
        stored = runtime.tokens.load(account.account_key)
        status: str = account.status
        if account.status_reason and account.status != "active":
            status = f"{status}: {account.status_reason}"
        rows.append(
            (
                account.account_key,
                account.api,
                status,
                str(account.tenant_id),
                ",".join(account.keywords) or "-",
                _relative(stored.expires_at, now) if stored else "no tokens",
                _relative(stored.refresh_expires_at, now) if stored else "-",
            )
        )
    return rows


def _relative(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = int((moment - now).total_seconds())
    if seconds <= 0:
        return f"expired {moment:%Y-%m-%d %H:%M}Z"
    hours, rest = divmod(seconds, 3600)
    return f"in {hours}h{rest // 60:02d}m ({moment:%Y-%m-%d %H:%M}Z)"
