"""``tiktok_users``: the account's profile snapshot for one UTC day."""

from __future__ import annotations

from datetime import datetime

from tiktok_etl.ingest.fetched import FetchOutcome
from tiktok_etl.ingest.rows import business_user_row, display_user_row
from tiktok_etl.ingest.sources import AccountSource
from tiktok_etl.ingest.window import DayWindow


def fetch_profile(source: AccountSource, window: DayWindow, now: datetime) -> FetchOutcome:
    """Read the profile once.

    A snapshot for a past day is today's profile: TikTok keeps no history of profile
    fields, so back-filled snapshots say when they were taken (``fetched_at``).
    """
    account = source.account
    if source.display is not None:
        user = source.display.user_info()
        row = display_user_row(account.account_key, window.day, user, now, account.open_id)
    else:
        assert source.business is not None
        profile = source.business.get_profile()
        row = business_user_row(account.account_key, window.day, profile, now, account.open_id)
    return FetchOutcome(rows=[row], notes={"snapshot_taken_at": now.isoformat()})
