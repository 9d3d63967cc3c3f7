"""A listening query's rows as mentions, and who owns a video both sources know."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from tiktok_etl.api.research_query import parse_query
from tiktok_etl.mentions.research import TermMatcher, normalize_research_partition
from tiktok_etl.storage.mentions_store import read_mentions, upsert_mentions

from .samples import mention

DAY = date(2026, 11, 5)
NOW = datetime(2026, 11, 6, 8, tzinfo=UTC)


def video_row(video_id: str, *, description: str = "acme launch", hashtags: tuple[str, ...] = (),
              username: str = "fan", key: str = "q1") -> dict[str, Any]:  # fmt: skip
    return {
        "account_key": f"query.{key}",
        "date": DAY,
        "query_key": key,
        "video_id": video_id,
        "create_time": datetime(2026, 11, 5, 10, tzinfo=UTC),
        "username": username,
        "region_code": "US",
        "description": description,
        "hashtag_names": list(hashtags),
        "like_count": 5,
        "comment_count": 1,
        "share_count": 2,
        "view_count": 100,
        "duration": 12.0,
        "fetched_at": NOW,
        "raw": {"id": int(video_id)},
    }


def comment_row(comment_id: str, video_id: str, text: str, key: str = "q1") -> dict[str, Any]:
    return {
        "account_key": f"query.{key}",
        "date": DAY,
        "query_key": key,
        "comment_id": comment_id,
        "video_id": video_id,
        "parent_comment_id": None,
        "create_time": datetime(2026, 11, 5, 11, tzinfo=UTC),
        "text": text,
        "like_count": 1,
        "reply_count": 0,
        "fetched_at": NOW,
        "raw": {"id": int(comment_id)},
    }


def query_mentions(
    key: str,
    videos: list[dict[str, Any]],
    comments: list[dict[str, Any]] | None = None,
    text: str = "#acme OR acme",
    tenant_id: int = 123,
) -> list[dict[str, Any]]:
    return list(
        normalize_research_partition(
            query_key=key,
            storage_key=f"query.{key}",
            tenant_id=tenant_id,
            source_id="listen",
            query=parse_query(text),
            video_rows=videos,
            comment_rows=comments or [],
            now=NOW,
        )
    )


def test_matched_keywords_are_the_query_terms_each_record_satisfies() -> None:
    terms = TermMatcher(parse_query('#acme OR acme OR @brand OR "new flavour"'))
    assert terms.for_video(video_row("1", description="acme", hashtags=("Acme",))) == [
        "#acme", "acme",
    ]  # fmt: skip
    assert terms.for_video(video_row("2", description="the acmes", hashtags=("acme",))) == ["#acme"]
    assert terms.for_video(video_row("3", description="New  flavour!", username="Brand")) == [
        "@brand", "new flavour",
    ]  # fmt: skip
    assert terms.for_text("love #ACME") == ["#acme", "acme"]
    assert terms.for_text("acme only") == ["acme"]
    assert terms.for_text("#acmelaunch") == []


def test_query_mentions_carry_the_query_as_their_source() -> None:
    video, comment = query_mentions(
        "q1", [video_row("7300000000000000001")],
        [comment_row("7400000000000000001", "7300000000000000001", "where to buy acme")],
    )  # fmt: skip
    assert (video["source_kind"], video["source_key"], video["account_key"]) == (
        "query", "q1", "query.q1",
    )  # fmt: skip
    assert video["url"] == "https://www.tiktok.com/@fan/video/7300000000000000001"
    assert (video["author_handle"], video["reach"], video["post_type"]) == ("@fan", 100, "video")
    assert video["engagement_rate"] == (5 + 1 + 2) / 100
    assert comment["url"] == video["url"]
    assert comment["parent_external_id"] == "7300000000000000001"
    assert comment["matched_keywords"] == ["acme"]
    assert comment["source_kind"] == "query"


def _source_of(engine: sa.Engine, external_id: str) -> tuple[str, str, str]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT source_kind, source_key, account_key FROM sl_mentions "
                    "WHERE external_id = :id AND deleted_at IS NULL"),
            {"id": external_id},
        ).one()  # fmt: skip
    return tuple(row)  # type: ignore[return-value]


def test_an_owned_video_keeps_its_account_row_when_a_query_matches_it(engine: sa.Engine) -> None:
    upsert_mentions(engine, "acme", DAY, [mention("7300000000000000001", day=DAY)])
    result = upsert_mentions(
        engine, "query.q1", DAY,
        query_mentions("q1", [video_row("7300000000000000001"), video_row("7300000000000000002")]),
        source_kind="query",
    )  # fmt: skip
    assert (result.inserted, result.updated) == (1, 0)
    assert _source_of(engine, "7300000000000000001") == ("account", "acme", "acme")
    assert _source_of(engine, "7300000000000000002") == ("query", "q1", "query.q1")
    assert [m["external_id"] for m in read_mentions(engine, "query.q1", DAY)] == [
        "7300000000000000002"
    ]


def test_an_account_takes_a_video_over_from_a_query(engine: sa.Engine) -> None:
    matched = query_mentions("q1", [video_row("7300000000000000002")])
    upsert_mentions(engine, "query.q1", DAY, matched, source_kind="query")
    upsert_mentions(engine, "acme", DAY, [mention("7300000000000000002", day=DAY)])
    assert _source_of(engine, "7300000000000000002") == ("account", "acme", "acme")
    # the query re-reading its day neither takes it back nor soft-deletes the account's row
    matched = query_mentions("q1", [video_row("7300000000000000002")])
    upsert_mentions(engine, "query.q1", DAY, matched, source_kind="query")
    assert _source_of(engine, "7300000000000000002") == ("account", "acme", "acme")


def test_a_video_two_queries_match_stays_with_the_first_until_it_lets_go(
    engine: sa.Engine,
) -> None:
    first = query_mentions("q1", [video_row("7300000000000000003")])
    second = query_mentions("q2", [video_row("7300000000000000003", key="q2")])
    upsert_mentions(engine, "query.q1", DAY, first, source_kind="query")
    upsert_mentions(engine, "query.q2", DAY, second, source_kind="query")
    assert _source_of(engine, "7300000000000000003") == ("query", "q1", "query.q1")
    upsert_mentions(engine, "query.q1", DAY, [], source_kind="query")  # q1 no longer matches
    upsert_mentions(engine, "query.q2", DAY, second, source_kind="query")
    assert _source_of(engine, "7300000000000000003") == ("query", "q2", "query.q2")
