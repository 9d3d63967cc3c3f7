"""The backfill planner's estimates, computed by hand from the readers' paging rules."""

from __future__ import annotations

from datetime import date

import pytest

from tiktok_etl.api import business, display
from tiktok_etl.ingest.plan import (
    PARTITIONS_PER_RUN,
    SANDBOX_AVERAGES,
    Averages,
    account_requests,
    averages_from,
    backfill_days,
    plan_backfill,
)
from tiktok_etl.storage.plan_stats import AccountFacts, DeploymentFacts

TODAY = date(2026, 11, 10)
TEN_DAYS = backfill_days(10, TODAY)
AVERAGES = Averages(
    videos_per_day=3.0,
    listed_videos=200.0,
    comment_pages_per_video=2.0,
    reply_pages_per_video=0.5,
    top_level_share=0.5,
    reply_pages_per_comment=0.1,
    source="test averages",
)


def _every_day(n: int) -> dict[date, int]:
    return dict.fromkeys(TEN_DAYS, n)


def test_backfill_days_end_with_the_last_day_oldest_first() -> None:
    assert backfill_days(3, TODAY) == [date(2026, 11, 8), date(2026, 11, 9), TODAY]
    with pytest.raises(ValueError):
        backfill_days(0, TODAY)


def test_three_display_accounts_ten_days_one_profile_call_and_window_pages_per_day() -> None:
    accounts = [
        AccountFacts("five", "display", videos_by_day=_every_day(5)),  # 1 page a day
        AccountFacts("twenty_five", "display", videos_by_day=_every_day(25)),  # 2 pages a day
        AccountFacts("forty", "display", videos_by_day=_every_day(40)),  # 3 pages a day
    ]

    plan = plan_backfill(accounts, TEN_DAYS, AVERAGES, rate_limit_per_minute=1)

    by_endpoint = {e.endpoint: e.requests for e in plan.endpoints}
    assert by_endpoint == {display.USER_INFO: 30, display.VIDEO_LIST: 60}
    assert plan.binding is not None and plan.binding.endpoint == display.VIDEO_LIST
    assert plan.hours == pytest.approx(1.0)  # 60 requests at 1 a minute
    assert (plan.accounts_known, plan.accounts_estimated) == (3, 0)


def test_three_read_business_accounts_with_unmoved_counts_cost_profiles_and_video_pages() -> None:
    # 2 videos a day, 100 listed, every video's comments read and unmoved since
    facts = AccountFacts(
        "brand", "business", videos_by_day=_every_day(2), listed_videos=100, comments_read=True
    )

    plan = plan_backfill([facts] * 3, TEN_DAYS, AVERAGES, rate_limit_per_minute=600)

    # the offset cursor pages through every video since the day's start: 2, 4, ... 20 videos,
    # one page each except the oldest day (20 // 20 + 1 = 2): 11 pages; plus one whole
    # listing (100 / 20 = 5 pages) for the one run of 10 partitions: 16 per account
    by_endpoint = {e.endpoint: e.requests for e in plan.endpoints}
    assert by_endpoint == {
        business.PROFILE: 30,
        business.VIDEO_LIST: 48,
        business.COMMENT_LIST: 0,
        business.REPLY_LIST: 0,
    }
    assert plan.binding is not None and plan.binding.endpoint == business.VIDEO_LIST
    assert plan.binding.hours == pytest.approx(48 / 600 / 60)


def test_every_run_of_a_business_backfill_lists_the_videos_once_more() -> None:
    facts = AccountFacts(
        "brand", "business", videos_by_day=_every_day(2), listed_videos=100, comments_read=True
    )

    two_runs = account_requests(facts, TEN_DAYS, AVERAGES, partitions_per_run=5)

    assert two_runs[business.VIDEO_LIST] == 11 + 2 * 5


def test_an_account_never_read_costs_its_whole_comment_history_once() -> None:
    never_read = AccountFacts("new", "business")

    requests = account_requests(never_read, TEN_DAYS, AVERAGES)

    # 3 videos a day: since-start counts 3 .. 30, 2 pages from 20 on (4 days): 14 pages;
    # the listing of 200 videos: 10 pages
    assert requests[business.VIDEO_LIST] == 14 + 10
    assert requests[business.COMMENT_LIST] == 200 * 2
    assert requests[business.REPLY_LIST] == 100
    assert not never_read.known


def test_only_unread_and_moved_videos_of_a_read_account_are_read() -> None:
    facts = AccountFacts(
        "brand",
        "business",
        videos_by_day=_every_day(0),
        listed_videos=20,
        comments_read=True,
        unread_videos={90: 2, 0: 5},  # 2 never read with 90 comments; 5 without comments
        moved_videos={10: 3},  # 3 videos gained 10 comments since their last read
    )

    requests = account_requests(facts, TEN_DAYS, AVERAGES)

    # unread: 90 * 0.5 top-level = 45 -> 2 pages each; moved: 5 top-level -> 1 page each
    assert requests[business.COMMENT_LIST] == 2 * 2 + 3 * 1
    # replies: 0.1 page per comment: 2 * 90 * 0.1 + 3 * 10 * 0.1
    assert requests[business.REPLY_LIST] == 21


def test_days_not_materialized_use_the_accounts_own_average() -> None:
    facts = AccountFacts(
        "creator", "display", videos_by_day={TODAY: 45}, videos_per_day=21.0, listed_videos=None
    )

    requests = account_requests(facts, TEN_DAYS, AVERAGES)

    # today: 45 // 20 + 1 = 3 pages; the 9 other days: 21 // 20 + 1 = 2 pages
    assert requests[display.VIDEO_LIST] == 3 + 9 * 2


def test_assumed_accounts_extrapolate_a_never_read_account() -> None:
    days = backfill_days(365, TODAY)
    one = account_requests(AccountFacts("x", "business"), days, AVERAGES)

    plan = plan_backfill([], days, AVERAGES, rate_limit_per_minute=600, assume_accounts=1000)

    by_endpoint = {e.endpoint: e.requests for e in plan.endpoints}
    assert by_endpoint == {endpoint: 1000 * n for endpoint, n in one.items()}
    assert (plan.accounts_known, plan.accounts_estimated) == (0, 1000)
    assert plan.binding is not None
    assert plan.hours == pytest.approx(plan.binding.requests / 600 / 60)


def test_averages_come_from_the_deployment_once_it_has_read_comments() -> None:
    facts = DeploymentFacts(
        materialized_days=40,
        videos=120,
        listing_accounts=2,
        listed_videos=300,
        comments=4000,
        top_level_comments=3000,
        comment_pages=450,
        reply_pages=600,
    )

    averages = averages_from(facts)

    assert averages.videos_per_day == 3.0
    assert averages.listed_videos == 150.0
    assert averages.comment_pages_per_video == 1.5
    assert averages.reply_pages_per_video == 2.0
    assert averages.top_level_share == 0.75
    assert averages.reply_pages_per_comment == 0.15
    assert "deployment" in averages.source


def test_an_empty_deployment_falls_back_to_the_sandbox_defaults() -> None:
    assert averages_from(DeploymentFacts()) == SANDBOX_AVERAGES
    videos_only = averages_from(DeploymentFacts(materialized_days=10, videos=50))
    assert videos_only.videos_per_day == 5.0
    assert videos_only.comment_pages_per_video == SANDBOX_AVERAGES.comment_pages_per_video
    assert "sandbox" in videos_only.source


def test_the_plan_runs_as_many_partitions_per_run_as_the_backfill_policy() -> None:
    from tiktok_etl.defs.assets import BACKFILL

    assert BACKFILL.max_partitions_per_run == PARTITIONS_PER_RUN
