"""An account together with the API client of its family, for one step."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tiktok_etl.api import BusinessClient, BusinessVideo, DisplayClient, FetchResult
from tiktok_etl.api.windows import in_window
from tiktok_etl.storage.accounts import Account


@dataclass
class AccountSource:
    account: Account
    display: DisplayClient | None = None
    business: BusinessClient | None = None
    _listing: FetchResult[BusinessVideo] | None = field(default=None, repr=False)
    listed_at: datetime | None = None

    def business_video_listing(self) -> FetchResult[BusinessVideo]:
        """Every video of a Business account, listed once per step.

        A backfill step covers up to 30 days of one account; the comment reader needs the
        whole listing (for comment counts) for each day, and minutes-old counts are fine:
        the next run sees whatever moved since.
        """
        assert self.business is not None
        if self._listing is None:
            self.listed_at = datetime.now(UTC)
            self._listing = self.business.iter_all_videos()
        return self._listing

    def business_videos_since(self, since: datetime, until: datetime) -> FetchResult[BusinessVideo]:
        """A Business account's videos with ``since <= create_time < until``: from the step's
        whole listing when another asset already read it (no request at all), else read
        newest first with early stop at ``since``."""
        assert self.business is not None
        if self._listing is None:
            return self.business.videos_created_between(since, until)
        return FetchResult(
            items=[v for v in self._listing.items if in_window(v.create_time, since, until)],
            rejects=list(self._listing.rejects),
            pages=0,
        )
