"""Token health as people read it, and which accounts a refresh run covers.

The texts the refresh job and sensor show (refresh-token expiry warnings, the re-authorization
command, why nothing is due) and the choice of accounts to refresh live here, so the Dagster
layer only wires them into ops, observations and run requests. No Dagster, no token values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from tiktok_etl.auth.model import StoredTokens
from tiktok_etl.auth.store import RefreshDue, TokenStore
from tiktok_etl.storage.accounts import AccountStore

# warn when a refresh token has less than this left (TikTok: 180 or 365 days in total) ...
REFRESH_TOKEN_WARNING = timedelta(days=7)
# ... or less than this share of the lifetime it was issued with, whichever comes first
REFRESH_TOKEN_WARNING_FRACTION = 0.10


def fix_command(account_key: str, api: str) -> str:
    """The command that re-authorizes an account (the only way to a new refresh token)."""
    return f"tiktok-etl auth login --api {api} --key {account_key}"


def utc_text(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"


def duration_text(delta: timedelta) -> str:
    """``3d04h`` from a day on, else ``5h07m`` (never negative)."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}d{hours:02d}h"
    return f"{hours}h{rest // 60:02d}m"


def refresh_token_expiry_warning(tokens: StoredTokens, now: datetime) -> str | None:
    """A warning when the refresh token itself is close to expiry, else None.

    Close means less than 7 days, or less than 10 % of its reported lifetime, left. Only a
    new authorization (``tiktok-etl auth login``) gives a new refresh-token lifetime.
    """
    expires_at = tokens.refresh_expires_at
    if expires_at is None:
        return None
    threshold = REFRESH_TOKEN_WARNING
    if tokens.refresh_expires_in:
        lifetime = timedelta(seconds=tokens.refresh_expires_in)
        threshold = max(threshold, lifetime * REFRESH_TOKEN_WARNING_FRACTION)
    remaining = expires_at - now
    if remaining >= threshold:
        return None
    if remaining <= timedelta(0):
        return f"its refresh token expired at {utc_text(expires_at)}"
    return f"its refresh token expires at {utc_text(expires_at)} (in {duration_text(remaining)})"


def due_now(schedule: Sequence[RefreshDue], now: datetime) -> list[RefreshDue]:
    return [entry for entry in schedule if entry.is_due(now)]


def accounts_to_refresh(
    requested: Sequence[str],
    *,
    force: bool,
    fraction: float,
    accounts: AccountStore,
    tokens: TokenStore,
    now: datetime,
) -> list[str]:
    """The requested accounts (once each, in order); none requested: every active account
    with ``force``, else every active account whose access token is due."""
    if requested:
        return list(dict.fromkeys(requested))
    if force:
        return [account.account_key for account in accounts.list(status="active")]
    return [entry.account_key for entry in due_now(tokens.refresh_schedule(fraction), now)]


def nothing_due_reason(
    schedule: Sequence[RefreshDue], fraction: float, blocked: Sequence[str]
) -> str:
    """Why no refresh is requested: the next due account, or that none has a known expiry."""
    if schedule:
        nxt = schedule[0]
        reason = (
            f"no access token due for refresh (fraction {fraction:g}); next expiry: "
            f"{nxt.account_key} at {utc_text(nxt.expires_at)}, refresh due from "
            f"{utc_text(nxt.due_at)}"
        )
    else:
        reason = "no active TikTok account has tokens with a known expiry"
    if blocked:
        reason += f"; needing re-authorization: {', '.join(blocked)}"
    return reason


def step_keys(accounts: Sequence[str]) -> Iterator[tuple[str, str]]:
    """(step key, account key) pairs; step keys allow only [A-Za-z0-9_] and are unique."""
    used: set[str] = set()
    for account_key in accounts:
        base = re.sub(r"[^A-Za-z0-9_]", "_", account_key) or "account"
        key, n = base, 1
        while key in used:
            n += 1
            key = f"{base}_{n}"
        used.add(key)
        yield key, account_key
