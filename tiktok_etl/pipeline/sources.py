"""An account together with the API client of its family."""

from __future__ import annotations

from dataclasses import dataclass

from tiktok_etl.api import BusinessClient, DisplayClient
from tiktok_etl.storage.accounts import Account


@dataclass
class AccountSource:
    account: Account
    display: DisplayClient | None = None
    business: BusinessClient | None = None
