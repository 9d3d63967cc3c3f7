"""Metric history: the day's snapshot of every tracked video, and the account's daily metrics.

Metrics cannot be observed retroactively: TikTok answers with today's counts only (the
Business account's daily ``metrics`` are the one exception, about 60 days of them). So the
partition of day D holds what was observed while D was the current UTC day; materializing a
past (or future) day observes nothing and says so in its notes instead of filing today's
values under another date. A tracked video is any video younger than
``TIKTOK_ETL_METRICS_MAX_AGE_DAYS``, read from the video listing the connector already
reads (never one request per video).

Pure shaping over the API clients: no storage, no Dagster.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tiktok_etl.api import BusinessVideo, DisplayVideo, IncompleteListing, RejectedRecord
from tiktok_etl.api.redaction import redact
from tiktok_etl.ingest.sources import AccountSource
from tiktok_etl.storage.metrics_tables import ACCOUNT_METRICS, VIDEO_METRICS
from tiktok_etl.storage.tables import VIDEOS, ApiFamily

Row = dict[str, Any]

# each breakdown of a Business video, and the field naming an entry's key
BREAKDOWNS: Mapping[str, str] = {
    "audience_countries": "country",
    "impression_sources": "impression_source",
}
# the typed columns of tiktok_account_metrics a Business `metrics` entry fills; every other
# field of the entry is kept in `extra`
BUSINESS_DAILY_FIELDS: tuple[str, ...] = (
    "followers_count",
    "profile_views",
    "video_views",
    "likes",
    "comments",
    "shares",
)
# TikTok keeps about 60 days of Business account metrics; ask for all of them every time
ACCOUNT_HISTORY_DAYS = 60
_INT64_MAX = 2**63 - 1
# the snapshot columns, filled from the attributes tiktok_videos' spec names per family
_METRIC_COLUMNS: tuple[str, ...] = (
    "view_count",
    "like_count",
    "comment_count",
    "share_count",
    "reach",
    "full_video_watched_rate",
    "total_time_watched",
    "average_time_watched",
)


def observation_time() -> datetime:
    """When a snapshot is taken: now, on the process's clock (tests move it)."""
    return datetime.now(UTC)


def not_observable(day: date, now: datetime) -> str | None:
    """Why the partition of ``day`` cannot be observed at ``now``; None when it can."""
    today = now.astimezone(UTC).date()
    if day == today:
        return None
    when = "past" if day < today else "future"
    return (
        f"{day.isoformat()} is a {when} day (today is {today.isoformat()} UTC): metrics "
        "cannot be observed retroactively, so nothing was recorded and the partition keeps "
        "what was observed on that day"
    )


@dataclass
class VideoSnapshot:
    """One day's snapshot of an account's tracked videos."""

    observed: bool
    metrics: list[Row] = field(default_factory=list)
    breakdowns: list[Row] = field(default_factory=list)
    rejects: list[RejectedRecord] = field(default_factory=list)
    breakdown_rejects: list[RejectedRecord] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


def fetch_video_snapshot(
    source: AccountSource, day: date, now: datetime, max_age_days: int
) -> VideoSnapshot:
    """Every video posted in the last ``max_age_days`` days, with its metrics at ``now``.

    A listing that cannot be read to its end raises `IncompleteListing` (naming the
    account): a snapshot silently missing videos would read as a drop in the history."""
    try:
        return _fetch_video_snapshot(source, day, now, max_age_days)
    except IncompleteListing as exc:
        raise exc.for_account(source.account.account_key) from exc


def _fetch_video_snapshot(
    source: AccountSource, day: date, now: datetime, max_age_days: int
) -> VideoSnapshot:
    reason = not_observable(day, now)
    if reason is not None:
        return VideoSnapshot(observed=False, notes={"snapshot": reason})
    since = now - timedelta(days=max_age_days)
    until = now + timedelta(seconds=1)  # a video posted this very second is visible
    key = source.account.account_key
    snapshot = VideoSnapshot(observed=True)
    videos: list[DisplayVideo] | list[BusinessVideo]
    api: ApiFamily
    if source.display is not None:
        listed = source.display.videos_created_between(since, until)
        videos, api = listed.items, "display"
        snapshot.rejects, pages = list(listed.rejects), listed.pages
    else:
        business = source.business_videos_since(since, until)
        videos, api = business.items, "business"
        snapshot.rejects, pages = list(business.rejects), business.pages
    seen: dict[str, Row] = {}
    shares: dict[str, list[Row]] = {}
    for video in videos:
        row = video_metric_row(api, key, day, video, now)
        seen[row["video_id"]] = row  # a video read twice while paging: the later read wins
        if isinstance(video, BusinessVideo):
            rows, rejects = breakdown_rows(key, day, video)
            shares[row["video_id"]] = rows
            snapshot.breakdown_rejects.extend(rejects)
    snapshot.metrics = list(seen.values())
    snapshot.breakdowns = [r for rows in shares.values() for r in rows]
    snapshot.notes = {
        "snapshot_taken_at": now.isoformat(),
        "tracked_since": since.isoformat(),
        "videos_tracked": len(snapshot.metrics),
        "listing_pages_read": pages,
    }
    return snapshot


def video_metric_row(
    api: ApiFamily,
    account_key: str,
    day: date,
    video: DisplayVideo | BusinessVideo,
    observed_at: datetime,
) -> Row:
    """A ``tiktok_video_metrics`` row: each metric from the attribute the ``tiktok_videos``
    spec names for ``api`` (one mapping for both tables), null where the family has none."""
    row: Row = {
        "account_key": account_key,
        "date": day,
        "video_id": video.item_id if isinstance(video, BusinessVideo) else video.id,
        "api": api,
        "create_time": video.create_time,
        "observed_at": observed_at,
    }
    for name in _METRIC_COLUMNS:
        attribute = VIDEOS.column(name).sources.get(api)
        value = None if attribute is None else getattr(video, attribute)
        if value is not None and VIDEO_METRICS.column(name).pg_type == "double precision":
            value = float(value)
        row[name] = value
    return row


def _share(value: Any) -> float:
    """A breakdown share: a finite number from 0 to 1 (TikTok sends fractions)."""
    if isinstance(value, bool):
        raise ValueError("percentage must be a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError("percentage must be a number") from None
    if not isinstance(value, int | float):
        raise ValueError("percentage must be a number")
    share = float(value)
    if not math.isfinite(share) or not 0.0 <= share <= 1.0:
        raise ValueError("percentage must be a finite number from 0 to 1")
    return share


def breakdown_rows(
    account_key: str, day: date, video: BusinessVideo
) -> tuple[list[Row], list[RejectedRecord]]:
    """A Business video's ``audience_countries`` and ``impression_sources`` as typed rows;
    an entry that is not ``{<key field>: text, "percentage": 0..1}``, or repeats a key, is
    rejected with the reason and never stops the rest."""
    rows: list[Row] = []
    rejects: list[RejectedRecord] = []
    for dimension, key_field in BREAKDOWNS.items():
        entries = getattr(video, dimension)
        if entries is None:
            continue
        kind = f"business_video_{dimension}"
        context = {"video_id": video.item_id, "dimension": dimension}
        if not isinstance(entries, list):
            rejects.append(
                RejectedRecord({**context, "entry": entries}, f"{dimension} is not a list", kind)
            )
            continue
        keys: set[str] = set()
        for entry in entries:
            payload = {**context, "entry": entry}
            try:
                if not isinstance(entry, Mapping):
                    raise ValueError("entry is not an object")
                name = entry.get(key_field)
                if not isinstance(name, str) or not name.strip():
                    raise ValueError(f"{key_field} must be a non-empty string")
                name = name.strip()
                if name in keys:
                    raise ValueError(f"{key_field} {name!r} appears twice")
                share = _share(entry.get("percentage"))
            except ValueError as exc:
                rejects.append(RejectedRecord(payload, redact(str(exc)), kind))
                continue
            keys.add(name)
            rows.append(
                {
                    "account_key": account_key,
                    "date": day,
                    "video_id": video.item_id,
                    "dimension": dimension,
                    "key": name,
                    "share": share,
                }
            )
    return rows, rejects


@dataclass
class AccountDays:
    """An account's metrics by day, as one read returned them."""

    observed: bool
    rows: dict[date, Row] = field(default_factory=dict)
    rejects: list[RejectedRecord] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


def fetch_account_metrics(source: AccountSource, day: date, now: datetime) -> AccountDays:
    """Display: today's row from the profile snapshot. Business: every day of the last
    ``ACCOUNT_HISTORY_DAYS`` TikTok still returns (one request), so the first run back-fills
    them and later runs refresh them; days TikTok no longer returns are left alone."""
    reason = not_observable(day, now)
    if reason is not None:
        return AccountDays(observed=False, notes={"snapshot": reason})
    key = source.account.account_key
    if source.display is not None:
        user = source.display.user_info()
        row = _account_row(key, day, "display", now) | {
            "followers_count": user.follower_count,
            "following_count": user.following_count,
            "likes_count": user.likes_count,
            "video_count": user.video_count,
        }
        return AccountDays(observed=True, rows={day: row}, notes={"days_written": 1})
    assert source.business is not None
    end = day - timedelta(days=1)
    start = end - timedelta(days=ACCOUNT_HISTORY_DAYS - 1)
    profile = source.business.get_profile(("metrics",), start_date=start, end_date=end)
    result = parse_business_metrics(key, profile.metrics, now)
    result.notes.update(
        {"requested_start_date": start.isoformat(), "requested_end_date": end.isoformat()}
    )
    return result


def _account_row(account_key: str, day: date, api: ApiFamily, now: datetime) -> Row:
    row: Row = {c.name: None for c in ACCOUNT_METRICS.columns}
    return row | {"account_key": account_key, "date": day, "api": api, "extra": {},
                  "observed_at": now}  # fmt: skip


def _count(name: str, value: Any) -> int | None:
    if value is None:
        return None
    number = value
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError(f"{name} must be an integer") from None
    if isinstance(number, float) and math.isfinite(number) and number.is_integer():
        number = int(number)
    if not isinstance(number, int) or isinstance(number, bool) or abs(number) > _INT64_MAX:
        raise ValueError(f"{name} must be an integer")
    return number


def parse_business_metrics(account_key: str, metrics: Any, now: datetime) -> AccountDays:
    """``business/get`` ``metrics`` (a list of daily objects with ``date``) as rows; an entry
    without a valid date or with a non-integer known count is rejected, never fatal."""
    result = AccountDays(observed=True)
    kind = "business_account_metrics"
    if metrics is None:
        result.notes["days_written"] = 0
        result.notes["metrics"] = "TikTok returned no daily metrics"
        return result
    entries = metrics if isinstance(metrics, list) else [metrics]
    for entry in entries:
        try:
            if not isinstance(entry, Mapping):
                raise ValueError("entry is not an object")
            raw_day = entry.get("date")
            if not isinstance(raw_day, str):
                raise ValueError("date must be a YYYY-MM-DD string")
            try:
                day = date.fromisoformat(raw_day.strip()[:10])
            except ValueError:
                raise ValueError("date must be a YYYY-MM-DD string") from None
            typed = {name: _count(name, entry.get(name)) for name in BUSINESS_DAILY_FIELDS}
        except ValueError as exc:
            payload = dict(entry) if isinstance(entry, Mapping) else {"entry": entry}
            result.rejects.append(RejectedRecord(payload, redact(str(exc)), kind))
            continue
        extra = {k: v for k, v in entry.items() if k != "date" and k not in BUSINESS_DAILY_FIELDS}
        result.rows[day] = (
            _account_row(account_key, day, "business", now) | typed | {"extra": extra}
        )
    result.notes["days_written"] = len(result.rows)
    if result.rows:
        result.notes["first_day"] = min(result.rows).isoformat()
        result.notes["last_day"] = max(result.rows).isoformat()
    return result
