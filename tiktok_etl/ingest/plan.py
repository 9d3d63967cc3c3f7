"""What a backfill will cost: requests per endpoint, hours at the rate limit, the binding endpoint.

Pure estimation over what the database already knows (gathered by
:mod:`tiktok_etl.storage.plan_stats`): per account, the videos of each day already
materialized, the size of its video listing, and the per-video comment state. It makes no
request and touches no database, so every rule is testable on its own. The rules follow the
readers, partition by partition:

- profile: one call per partition (``tiktok_users``);
- videos, Display: the listing is read from the window's end (a time cursor) until it passes
  the window's start, so ``videos that day // 20 + 1`` pages;
- videos, Business: the cursor is an offset from the newest video, so the read pages through
  every video created since the window's start: ``videos since that day // 20 + 1`` pages,
  at most the whole listing;
- comments, Business: each step lists every video once (``ceil(listed / 20)`` pages), then
  reads only the videos whose comment count moved since the last read, or that were never
  read (their whole history, once per video, not once per partition). Comment and reply
  pages hold up to 30;
- token refreshes: one per access-token lifetime per account, negligible, not counted.

An account never read is estimated from averages: the deployment's own (measured over the
accounts already read) when there are any, otherwise :data:`SANDBOX_AVERAGES`. The plan says
which it used. Every endpoint has its own budget, so the endpoints run side by side and the
one with the most requests binds: it alone sets the backfill's duration.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from tiktok_etl.api import business, display
from tiktok_etl.storage.plan_stats import AccountFacts, Api, DeploymentFacts

VIDEO_PAGE = display.MAX_VIDEOS_PER_PAGE  # both families list at most 20 videos a page
COMMENT_PAGE = business.MAX_COMMENTS_PER_PAGE  # comments and replies: at most 30 a page
# the backfill policy of the raw assets: a backfill runs up to this many partitions per run
# (defs.assets.BACKFILL; a test keeps the two equal), and a Business step lists once per run
PARTITIONS_PER_RUN = 30

DISPLAY_ENDPOINTS: tuple[str, ...] = (display.USER_INFO, display.VIDEO_LIST)
BUSINESS_ENDPOINTS: tuple[str, ...] = (
    business.PROFILE,
    business.VIDEO_LIST,
    business.COMMENT_LIST,
    business.REPLY_LIST,
)


@dataclass(frozen=True)
class Averages:
    """Per-account averages that stand in for what is not known yet.

    ``comment_pages_per_video`` and ``reply_pages_per_video`` are over every listed video
    (those without comments included): the pages a first read of the whole history costs.
    ``top_level_share`` and ``reply_pages_per_comment`` turn a comment count into pages.
    """

    videos_per_day: float
    listed_videos: float
    comment_pages_per_video: float
    reply_pages_per_video: float
    top_level_share: float
    reply_pages_per_comment: float
    source: str


# Measured on the sandbox's default world (the demo's: seed 7, 120 days of history), after a
# first 7-day run of two Business accounts, with the SQL of ``storage.plan_stats``: 3.1
# videos a day, 396 listed videos, 44% of comments top-level, heavy videos' replies dominant.
SANDBOX_AVERAGES = Averages(
    videos_per_day=3.1,
    listed_videos=396.0,
    comment_pages_per_video=1.64,
    reply_pages_per_video=6.16,
    top_level_share=0.44,
    reply_pages_per_comment=0.088,
    source="sandbox defaults: no account read yet",
)


def averages_from(facts: DeploymentFacts, fallback: Averages = SANDBOX_AVERAGES) -> Averages:
    """The deployment's own averages where it has read enough to say, ``fallback`` elsewhere."""
    videos_per_day = fallback.videos_per_day
    if facts.materialized_days:
        videos_per_day = facts.videos / facts.materialized_days
    if not (facts.listing_accounts and facts.listed_videos and facts.comments):
        if not facts.materialized_days:
            return fallback
        return replace(
            fallback,
            videos_per_day=videos_per_day,
            source=f"deployment's videos per day ({facts.materialized_days} partitions), "
            "sandbox defaults for comments: no comment read yet",
        )
    return Averages(
        videos_per_day=videos_per_day,
        listed_videos=facts.listed_videos / facts.listing_accounts,
        comment_pages_per_video=facts.comment_pages / facts.listed_videos,
        reply_pages_per_video=facts.reply_pages / facts.listed_videos,
        top_level_share=facts.top_level_comments / facts.comments,
        reply_pages_per_comment=facts.reply_pages / facts.comments,
        source=f"deployment averages: {facts.materialized_days} partitions, "
        f"{facts.listing_accounts} Business account(s) with comments read",
    )


@dataclass(frozen=True)
class EndpointCost:
    endpoint: str
    requests: int
    hours: float


@dataclass(frozen=True)
class BackfillPlan:
    days: int
    accounts_known: int
    accounts_estimated: int
    rate_limit_per_minute: int
    endpoints: tuple[EndpointCost, ...]
    averages_source: str

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.endpoints)

    @property
    def binding(self) -> EndpointCost | None:
        """The endpoint with the most requests: with one budget each, it sets the duration."""
        return max(self.endpoints, key=lambda e: e.requests, default=None)

    @property
    def hours(self) -> float:
        return self.binding.hours if self.binding else 0.0


def backfill_days(days: int, until: date) -> list[date]:
    """The last ``days`` UTC days ending with ``until`` (today's partition included)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    return [until - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def _pages(items: float, page: int) -> int:
    """Pages a read that stops after the page holding its last item needs: ``n // page + 1``."""
    return int(items // page) + 1


def _listing_pages(items: float) -> int:
    return max(1, math.ceil(items / VIDEO_PAGE))


def day_videos(stats: AccountFacts, days: Sequence[date], averages: Averages) -> list[float]:
    """Videos of each day: counted where the day was materialized, the average elsewhere."""
    fallback = stats.videos_per_day if stats.videos_per_day is not None else averages.videos_per_day
    return [float(stats.videos_by_day.get(d, fallback)) for d in days]


def _comment_reads(stats: AccountFacts, averages: Averages) -> tuple[float, float]:
    """Comment and reply pages the account's first step reads (later ones find counts unmoved)."""
    if not stats.comments_read:
        # the whole history of every listed video, once
        listed = stats.listed_videos if stats.listed_videos is not None else averages.listed_videos
        return (
            listed * averages.comment_pages_per_video,
            listed * averages.reply_pages_per_video,
        )
    comment_pages = reply_pages = 0.0
    for count, videos in stats.unread_videos.items():
        if count <= 0:
            continue  # nothing to read on a video without comments
        comment_pages += videos * max(1, math.ceil(count * averages.top_level_share / COMMENT_PAGE))
        reply_pages += videos * count * averages.reply_pages_per_comment
    for moved, videos in stats.moved_videos.items():
        # newest first down to the last read: the new comments' pages, at least one
        comment_pages += videos * max(1, math.ceil(moved * averages.top_level_share / COMMENT_PAGE))
        reply_pages += videos * moved * averages.reply_pages_per_comment
    return comment_pages, reply_pages


def account_requests(
    stats: AccountFacts,
    days: Sequence[date],
    averages: Averages,
    partitions_per_run: int = PARTITIONS_PER_RUN,
) -> Counter[str]:
    """Requests per endpoint to materialize ``days`` (oldest first, ending today) of one account."""
    per_day = day_videos(stats, days, averages)
    out: Counter[str] = Counter()
    if stats.api == "display":
        out[display.USER_INFO] = len(days)
        out[display.VIDEO_LIST] = sum(_pages(n, VIDEO_PAGE) for n in per_day)
        return out
    listed = stats.listed_videos if stats.listed_videos is not None else averages.listed_videos
    listed = max(listed, sum(per_day))
    whole_listing = _listing_pages(listed)
    video_pages = 0
    since = 0.0  # videos created since the day's start: that day's and every later day's
    for n in reversed(per_day):
        since += n
        video_pages += min(_pages(since, VIDEO_PAGE), whole_listing)
    runs = math.ceil(len(days) / max(1, partitions_per_run))
    comment_pages, reply_pages = _comment_reads(stats, averages)
    out[business.PROFILE] = len(days)
    out[business.VIDEO_LIST] = video_pages + runs * whole_listing
    out[business.COMMENT_LIST] = math.ceil(comment_pages)
    out[business.REPLY_LIST] = math.ceil(reply_pages)
    return out


def plan_backfill(
    accounts: Iterable[AccountFacts],
    days: Sequence[date],
    averages: Averages,
    *,
    rate_limit_per_minute: int,
    assume_accounts: int = 0,
    assume_api: Api = "business",
    partitions_per_run: int = PARTITIONS_PER_RUN,
) -> BackfillPlan:
    """The cost of materializing ``days`` for ``accounts`` plus ``assume_accounts`` accounts not
    connected yet (estimated as never-read accounts of ``assume_api``)."""
    if rate_limit_per_minute < 1:
        raise ValueError("rate_limit_per_minute must be at least 1")
    total: Counter[str] = Counter()
    known = estimated = 0
    families: set[str] = set()
    for stats in accounts:
        total.update(account_requests(stats, days, averages, partitions_per_run))
        families.add(stats.api)
        known += stats.known
        estimated += not stats.known
    if assume_accounts > 0:
        unknown = AccountFacts(account_key="(assumed)", api=assume_api)
        one = account_requests(unknown, days, averages, partitions_per_run)
        total.update({endpoint: n * assume_accounts for endpoint, n in one.items()})
        families.add(assume_api)
        estimated += assume_accounts
    endpoints = tuple(
        EndpointCost(endpoint, total[endpoint], total[endpoint] / rate_limit_per_minute / 60)
        for family, endpoints in (("display", DISPLAY_ENDPOINTS), ("business", BUSINESS_ENDPOINTS))
        if family in families
        for endpoint in endpoints
    )
    return BackfillPlan(
        days=len(days),
        accounts_known=known,
        accounts_estimated=estimated,
        rate_limit_per_minute=rate_limit_per_minute,
        endpoints=endpoints,
        averages_source=averages.source,
    )


def format_plan(plan: BackfillPlan) -> str:
    """The plan as ``tiktok-etl plan`` prints it: one line per endpoint, then the verdict."""
    lines = [
        f"backfill of {plan.days} day(s): {plan.accounts_known} account(s) from what is stored, "
        f"{plan.accounts_estimated} estimated ({plan.averages_source})",
        f"rate limit: {plan.rate_limit_per_minute} requests per endpoint per minute",
        "",
        f"{'endpoint':<32} {'requests':>12} {'hours':>9}",
    ]
    for cost in plan.endpoints:
        lines.append(f"{cost.endpoint:<32} {cost.requests:>12,} {cost.hours:>9.2f}")
    lines.append(f"{'total':<32} {plan.requests:>12,}")
    lines.append("")
    binding = plan.binding
    if binding is None:
        lines.append("nothing to read: no account selected")
    else:
        lines.append(
            f"binding endpoint: {binding.endpoint} ({binding.requests:,} requests, "
            f"{binding.hours:.2f} h at {plan.rate_limit_per_minute}/min)"
        )
    return "\n".join(lines)
