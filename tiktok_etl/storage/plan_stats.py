"""What the backfill planner (:mod:`tiktok_etl.ingest.plan`) needs from the database, in a few
aggregate queries.

Every query groups in PostgreSQL and returns at most a row per account and day, per account
and comment count, or one row for the deployment: a plan over 1,000 accounts and millions
of stored comments moves no per-record rows into Python. Read-only; nothing here estimates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import sqlalchemy as sa

Api = Literal["display", "business"]


@dataclass(frozen=True)
class AccountFacts:
    """What the database knows about one account, as far as a plan needs it.

    ``videos_by_day`` holds the requested days already materialized (a day with no video as
    0); ``videos_per_day`` the account's average over every day it has materialized (None:
    none yet); ``listed_videos`` the size of its last Business listing seen (None: never
    listed). ``comments_read`` says whether any of its videos' comments were read;
    ``unread_videos`` maps a listed comment count to how many listed videos with that count
    were never read, and ``moved_videos`` maps how far a video's listed count moved since its
    last read to how many videos moved that far.
    """

    account_key: str
    api: Api
    videos_by_day: Mapping[date, int] = field(default_factory=dict)
    videos_per_day: float | None = None
    listed_videos: int | None = None
    comments_read: bool = False
    unread_videos: Mapping[int, int] = field(default_factory=dict)
    moved_videos: Mapping[int, int] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        """Whether anything of the account was read: otherwise it is all averages."""
        return bool(self.videos_by_day) or self.listed_videos is not None or self.comments_read


@dataclass(frozen=True)
class DeploymentFacts:
    """Sums over every account already read, from which the planner derives its averages.

    ``listed_videos`` and the page sums are over the Business accounts whose comments were
    read; the page sums are what a first read of those videos' whole history costs.
    """

    materialized_days: int = 0
    videos: int = 0
    listing_accounts: int = 0
    listed_videos: int = 0
    comments: int = 0
    top_level_comments: int = 0
    comment_pages: int = 0
    reply_pages: int = 0


# the partitions an account has materialized: every partition writes one profile row, and a
# day with videos has video rows
_DAYS = """
    SELECT account_key, date FROM tiktok_users WHERE account_key = ANY(:a)
    UNION SELECT DISTINCT account_key, date FROM tiktok_videos WHERE account_key = ANY(:a)
"""


def selected_accounts(engine: sa.Engine, account_keys: Sequence[str] = ()) -> dict[str, Api]:
    """The named accounts (any status), or every active one, with their API family.

    Unknown names are left out; the caller says which."""
    query = "SELECT account_key, api FROM tiktok_accounts WHERE "
    if account_keys:
        query += "account_key = ANY(:keys)"
    else:
        query += "status = 'active'"
    with engine.connect() as conn:
        rows = conn.execute(sa.text(query + " ORDER BY account_key"), {"keys": list(account_keys)})
        return {r.account_key: r.api for r in rows}


def account_facts(
    engine: sa.Engine, accounts: Mapping[str, Api], days: Sequence[date]
) -> list[AccountFacts]:
    """Facts for each of ``accounts`` over the requested ``days``."""
    keys = list(accounts)
    first, last = min(days), max(days)
    by_day: dict[str, dict[date, int]] = defaultdict(dict)
    averages: dict[str, float] = {}
    listed: dict[str, int] = {}
    read: set[str] = set()
    unread: dict[str, dict[int, int]] = defaultdict(dict)
    moved: dict[str, dict[int, int]] = defaultdict(dict)
    with engine.connect() as conn:
        for r in conn.execute(
            sa.text(
                f"WITH days AS ({_DAYS}), counts AS (SELECT account_key, date, count(*) AS n "
                "FROM tiktok_videos WHERE account_key = ANY(:a) AND date BETWEEN :f AND :l "
                "GROUP BY account_key, date) "
                "SELECT d.account_key, d.date, coalesce(c.n, 0) AS n "
                "FROM days d LEFT JOIN counts c USING (account_key, date) "
                "WHERE d.date BETWEEN :f AND :l"
            ),
            {"a": keys, "f": first, "l": last},
        ):
            by_day[r.account_key][r.date] = r.n
        for r in conn.execute(
            sa.text(
                f"WITH days AS ({_DAYS}) SELECT d.account_key, count(*) AS days, "
                "(SELECT count(*) FROM tiktok_videos v WHERE v.account_key = d.account_key) "
                "AS videos FROM days d GROUP BY d.account_key"
            ),
            {"a": keys},
        ):
            averages[r.account_key] = r.videos / r.days
        for r in conn.execute(
            sa.text(
                "SELECT account_key, count(*) AS n FROM (SELECT account_key, video_id "
                "FROM tiktok_video_links WHERE account_key = ANY(:a) UNION "
                "SELECT account_key, video_id FROM tiktok_videos "
                "WHERE account_key = ANY(:a) AND api = 'business') v GROUP BY account_key"
            ),
            {"a": keys},
        ):
            listed[r.account_key] = r.n
        for r in conn.execute(
            sa.text(
                "SELECT DISTINCT account_key FROM tiktok_comment_video_state "
                "WHERE account_key = ANY(:a)"
            ),
            {"a": keys},
        ):
            read.add(r.account_key)
        # the newest listed count of each video against its comment state: never read, or
        # listed again after its last read with a different count
        for r in conn.execute(
            sa.text(
                "WITH listed AS (SELECT DISTINCT ON (account_key, video_id) account_key, "
                "video_id, comment_count, fetched_at FROM tiktok_videos "
                "WHERE account_key = ANY(:a) AND api = 'business' "
                "ORDER BY account_key, video_id, fetched_at DESC) "
                "SELECT l.account_key, s.video_id IS NULL AS unread, "
                "CASE WHEN s.video_id IS NULL THEN coalesce(l.comment_count, 0) "
                "ELSE abs(coalesce(l.comment_count, 0) - s.comment_count) END AS n, "
                "count(*) AS videos FROM listed l LEFT JOIN tiktok_comment_video_state s "
                "USING (account_key, video_id) "
                "WHERE s.video_id IS NULL OR (l.fetched_at > s.checked_at "
                "AND coalesce(l.comment_count, 0) <> s.comment_count) "
                "GROUP BY 1, 2, 3"
            ),
            {"a": keys},
        ):
            (unread if r.unread else moved)[r.account_key][int(r.n)] = r.videos
    return [
        AccountFacts(
            account_key=key,
            api=api,
            videos_by_day=by_day.get(key, {}),
            videos_per_day=averages.get(key),
            listed_videos=listed.get(key) if api == "business" else None,
            comments_read=key in read,
            unread_videos=unread.get(key, {}),
            moved_videos=moved.get(key, {}),
        )
        for key, api in accounts.items()
    ]


def deployment_facts(engine: sa.Engine, page_size: int) -> DeploymentFacts:
    """Sums over every account already read; ``page_size`` is the comment listing's."""
    with engine.connect() as conn:
        days: Any = conn.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT account_key, date FROM tiktok_users "
                "UNION SELECT DISTINCT account_key, date FROM tiktok_videos) d"
            )
        ).scalar_one()
        videos: Any = conn.execute(sa.text("SELECT count(*) FROM tiktok_videos")).scalar_one()
        counts: Any = conn.execute(
            sa.text(
                "SELECT count(DISTINCT account_key), count(*) FROM tiktok_video_links "
                "WHERE account_key IN (SELECT account_key FROM tiktok_comment_video_state)"
            )
        ).one()
        accounts, listed = counts
        sums: Any = conn.execute(
            sa.text(
                "SELECT coalesce(sum(total), 0), coalesce(sum(top), 0), "
                "coalesce(sum(greatest(1, ceil(top / CAST(:p AS numeric)))), 0) FROM "
                "(SELECT count(*) AS total, count(*) FILTER (WHERE parent_comment_id IS NULL) "
                "AS top FROM tiktok_comment_cache GROUP BY account_key, video_id) v"
            ),
            {"p": page_size},
        ).one()
        comments, top, comment_pages = sums
        reply_pages: Any = conn.execute(
            sa.text(
                "SELECT coalesce(sum(ceil(n / CAST(:p AS numeric))), 0) FROM "
                "(SELECT count(*) AS n FROM tiktok_comment_cache "
                "WHERE parent_comment_id IS NOT NULL GROUP BY account_key, parent_comment_id) r"
            ),
            {"p": page_size},
        ).scalar_one()
    return DeploymentFacts(
        materialized_days=int(days),
        videos=int(videos),
        listing_accounts=int(accounts),
        listed_videos=int(listed),
        comments=int(comments),
        top_level_comments=int(top),
        comment_pages=int(comment_pages),
        reply_pages=int(reply_pages),
    )
