"""``tiktok_videos``: the videos an account published in one UTC day, with current metrics."""

from __future__ import annotations

from datetime import datetime

from tiktok_etl.api import IncompleteListing
from tiktok_etl.ingest.fetched import FetchOutcome
from tiktok_etl.ingest.rows import business_video_row, display_video_row
from tiktok_etl.ingest.sources import AccountSource
from tiktok_etl.ingest.window import DayWindow


def fetch_videos(source: AccountSource, window: DayWindow, now: datetime) -> FetchOutcome:
    """Both families list newest first, so the window is read from its end with early stop.

    A listing that cannot be read to its end raises `IncompleteListing` (naming the
    account) rather than writing a partition that silently lacks videos."""
    key = source.account.account_key
    try:
        return _fetch_videos(source, window, now)
    except IncompleteListing as exc:
        raise exc.for_account(key) from exc


def _fetch_videos(source: AccountSource, window: DayWindow, now: datetime) -> FetchOutcome:
    key = source.account.account_key
    if source.display is not None:
        listed = source.display.videos_created_between(window.start, window.end)
        rows = [display_video_row(key, window.day, v, now) for v in listed.items]
        rejects, pages = list(listed.rejects), listed.pages
    else:
        assert source.business is not None
        business = source.business.videos_created_between(window.start, window.end)
        rows = [business_video_row(key, window.day, v, now) for v in business.items]
        rejects, pages = list(business.rejects), business.pages
    rows = _dedupe(rows, "video_id")
    return FetchOutcome(rows=rows, rejects=rejects, notes={"pages": pages})


def _dedupe(rows: list[dict], key: str) -> list[dict]:
    # a record that moves between pages while we page (a new post shifts the offset cursor)
    # can be returned twice; the later read is the fresher one
    seen: dict[str, dict] = {}
    for row in rows:
        seen[row[key]] = row
    return list(seen.values())
