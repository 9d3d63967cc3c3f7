"""Raw TikTok rows -> sl_mentions rows, column by column, from documented payloads."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tiktok_etl.mentions import (
    KeywordMatcher,
    MentionSource,
    engagement_rate,
    normalize_comment,
    normalize_partition,
    normalize_video,
)
from tiktok_etl.mentions.schema import COLUMN_NAMES
from tiktok_etl.storage.accounts import Account
from tiktok_etl_tests.mentions.samples import (
    ACCOUNT,
    NOW,
    business_comment_rows,
    business_reply_row,
    business_user_row,
    business_video_row,
    display_user_row,
    display_video_rows,
    payload,
)

VIDEO_URL = "https://www.tiktok.com/@brand/video/7109065174526479622"


def _matcher(*keywords: str, mode: str = "tag") -> KeywordMatcher:
    return KeywordMatcher(keywords, mode)  # type: ignore[arg-type]


def test_display_video_maps_every_column() -> None:
    row = display_video_rows()[0]
    mention = normalize_video(ACCOUNT, display_user_row(), row, _matcher("tech"), now=NOW)

    assert mention == {
        "tenant_id": 123,
        "source_id": "uuid-source-123",
        "platform": "tiktok",
        "external_id": "7080213458555737986",
        "url": "https://www.tiktok.com/@tiktoker/video/7080213458555737986",
        "content": "Check out our new product! #tech #innovation",
        "author_name": "Tik Toker",
        "author_handle": "@tiktoker",
        "author_followers": 1024,
        "author_verified": False,
        "likes_count": 5000,
        "comments_count": 200,
        "shares_count": 300,
        "views_count": 100000,
        "reach": 100000,
        "media_type": "video",
        "media_urls": ["https://p16-sign.tiktokcdn-us.com/obj/cover1.jpeg?x-expires=1648600000"],
        "published_at": datetime(2022, 3, 28, 20, 40, tzinfo=UTC),
        "post_type": "video",
        "status": "new",
        "duration": 30.0,
        "dimensions": {"width": 1080, "height": 1920},
        "raw_data": payload("display_video_list.json")["data"]["videos"][0],
        "parent_external_id": None,
        "matched_keywords": ["tech"],
        "engagement_rate": (5000 + 200 + 300) / 100000,
        "account_key": "acme",
        "date": date(2022, 3, 28),
        "ingested_at": NOW,
        "updated_at": NOW,
        "deleted_at": None,
        "metrics_as_of": row["fetched_at"],
        "source_kind": "account",
        "source_key": "acme",
    }
    assert tuple(mention) == COLUMN_NAMES


def test_business_video_maps_every_column() -> None:
    row = business_video_row()
    mention = normalize_video(ACCOUNT, business_user_row(), row, _matcher("acmelaunch"), now=NOW)

    assert mention == {
        "tenant_id": 123,
        "source_id": "uuid-source-123",
        "platform": "tiktok",
        "external_id": "7109065174526479622",
        "url": VIDEO_URL,
        "content": "Our launch 🚀 #acmeLaunch",
        "author_name": "Brand Name",
        "author_handle": "@brand",
        "author_followers": 50000,
        "author_verified": None,
        "likes_count": 12000,
        "comments_count": 340,
        "shares_count": 95,
        "views_count": 250000,
        "reach": 180000,
        "media_type": "video",
        "media_urls": ["https://p16-sign-sg.tiktokcdn.com/obj/thumb.jpeg"],
        "published_at": datetime(2022, 6, 14, 9, 46, 40, tzinfo=UTC),
        "post_type": "video",
        "status": "new",
        "duration": 21.5,
        "dimensions": None,
        "raw_data": payload("business_video_list.json")["data"]["videos"][0],
        "parent_external_id": None,
        "matched_keywords": ["acmelaunch"],
        "engagement_rate": (12000 + 340 + 95) / 250000,
        "account_key": "acme",
        "date": date(2022, 6, 14),
        "ingested_at": NOW,
        "updated_at": NOW,
        "deleted_at": None,
        "metrics_as_of": row["fetched_at"],
        "source_kind": "account",
        "source_key": "acme",
    }


def test_business_comment_maps_every_column() -> None:
    row = business_comment_rows()[0]
    mention = normalize_comment(ACCOUNT, row, VIDEO_URL, _matcher("nice"), now=NOW)

    assert mention == {
        "tenant_id": 123,
        "source_id": "uuid-source-123",
        "platform": "tiktok",
        "external_id": "7110150495453840130",
        "url": VIDEO_URL,
        "content": "nice",
        "author_name": "phoenix202312121",
        "author_handle": "@phoenix202312121",
        "author_followers": None,
        "author_verified": None,
        "likes_count": 0,
        "comments_count": 11,
        "shares_count": None,
        "views_count": None,
        "reach": None,
        "media_type": "text",
        "media_urls": [],
        "published_at": datetime(2022, 6, 17, 10, 18, 18, tzinfo=UTC),
        "post_type": "comment",
        "status": "new",
        "duration": None,
        "dimensions": None,
        "raw_data": payload("business_comment_list.json")["data"]["comments"][0],
        "parent_external_id": "7109065174526479622",
        "matched_keywords": ["nice"],
        "engagement_rate": None,
        "account_key": "acme",
        "date": date(2022, 6, 17),
        "ingested_at": NOW,
        "updated_at": NOW,
        "deleted_at": None,
        "metrics_as_of": row["fetched_at"],
        "source_kind": "account",
        "source_key": "acme",
    }


def test_business_reply_points_at_its_parent_comment() -> None:
    mention = normalize_comment(ACCOUNT, business_reply_row(), VIDEO_URL, _matcher(), now=NOW)

    assert mention["post_type"] == "reply"
    assert mention["external_id"] == "7115302925501563650"
    assert mention["parent_external_id"] == "7111907185164763905"
    assert mention["url"] == VIDEO_URL
    assert mention["content"] == "hh"
    assert (mention["author_name"], mention["author_handle"]) == ("klein_kunkun", "@klein_kunkun")
    assert (mention["likes_count"], mention["comments_count"]) == (0, None)
    assert mention["published_at"] == datetime(2022, 7, 1, 7, 30, 22, tzinfo=UTC)
    assert mention["raw_data"] == payload("business_reply_list.json")["data"]["comments"][0]
    assert mention["matched_keywords"] == []


def test_a_handle_already_starting_with_at_is_not_doubled() -> None:
    user = display_user_row() | {"username": "@tiktoker"}
    mention = normalize_video(ACCOUNT, user, display_video_rows()[0], _matcher(), now=NOW)
    assert mention["author_handle"] == "@tiktoker"


def test_without_a_user_row_the_author_columns_are_null() -> None:
    mention = normalize_video(ACCOUNT, None, display_video_rows()[0], _matcher(), now=NOW)
    assert [mention[c] for c in ("author_name", "author_handle", "author_followers")] == [
        None,
        None,
        None,
    ]
    assert mention["author_verified"] is None


@pytest.mark.parametrize(
    ("likes", "comments", "shares", "views", "expected"),
    [
        (10, 5, 5, 100, 0.2),
        (10, None, 5, 100, 0.15),
        (10, 5, 5, 0, None),
        (10, 5, 5, None, None),
        (None, None, None, 100, None),
        (0, 0, 0, 12, 0.0),
    ],
)
def test_engagement_rate(
    likes: int | None, comments: int | None, shares: int | None, views: int | None, expected: Any
) -> None:
    assert engagement_rate(likes, comments, shares, views) == expected


def test_a_video_with_zero_views_has_no_engagement_rate() -> None:
    row = display_video_rows()[0] | {"view_count": 0}
    assert normalize_video(ACCOUNT, None, row, _matcher(), now=NOW)["engagement_rate"] is None


@pytest.mark.parametrize(
    ("description", "title", "content"),
    [
        ("the description", "the title", "the description"),
        ("", "the title", "the title"),
        (None, "the title", "the title"),
        ("   ", "the title", "the title"),
        ("", "", ""),
        (None, None, ""),
    ],
)
def test_content_falls_back_from_description_to_title(
    description: str | None, title: str | None, content: str
) -> None:
    row = display_video_rows()[0] | {"description": description, "title": title}
    assert normalize_video(ACCOUNT, None, row, _matcher(), now=NOW)["content"] == content


def test_keywords_are_also_matched_in_a_title_the_content_does_not_show() -> None:
    row = display_video_rows()[0] | {"description": "new drop", "title": "Acme spring"}
    mention = normalize_video(ACCOUNT, None, row, _matcher("acme"), now=NOW)
    assert mention["content"] == "new drop"
    assert mention["matched_keywords"] == ["acme"]


def test_a_comment_without_text_has_empty_content() -> None:
    row = business_comment_rows()[0] | {"text": None}
    assert normalize_comment(ACCOUNT, row, None, _matcher(), now=NOW)["content"] == ""


def _partition(
    matcher: KeywordMatcher, video_urls: dict[str, str | None] | None = None, batch_size: int = 10
) -> list[list[dict[str, Any]]]:
    return list(
        normalize_partition(
            ACCOUNT,
            business_user_row(),
            [business_video_row()],
            [*business_comment_rows(), business_reply_row()],
            video_urls or {},
            matcher,
            batch_size,
            now=NOW,
        )
    )


def test_partition_yields_videos_then_comments_with_the_days_video_urls() -> None:
    (batch,) = _partition(_matcher())
    assert [m["post_type"] for m in batch] == ["video", "comment", "comment", "reply"]
    assert {m["url"] for m in batch} == {VIDEO_URL}


def test_a_comment_on_an_older_video_takes_its_url_from_video_urls() -> None:
    comment = business_comment_rows()[0] | {"video_id": "old-video"}
    (batch,) = normalize_partition(
        ACCOUNT, None, [], [comment], {"old-video": "https://t.example/old"}, _matcher(), now=NOW
    )
    assert batch[0]["url"] == "https://t.example/old"


def test_a_comment_on_an_unknown_video_has_no_url() -> None:
    comment = business_comment_rows()[0] | {"video_id": "unknown"}
    (batch,) = normalize_partition(ACCOUNT, None, [], [comment], {}, _matcher(), now=NOW)
    assert batch[0]["url"] is None


def test_tag_mode_keeps_every_mention_and_records_matches() -> None:
    (batch,) = _partition(_matcher("launch", "nice", mode="tag"))
    assert [m["matched_keywords"] for m in batch] == [["launch"], ["nice"], [], []]


def test_filter_mode_keeps_only_matching_mentions() -> None:
    (batch,) = _partition(_matcher("launch", "nice", mode="filter"))
    assert [m["external_id"] for m in batch] == ["7109065174526479622", "7110150495453840130"]


def test_filter_mode_without_keywords_keeps_everything() -> None:
    (batch,) = _partition(_matcher(mode="filter"))
    assert len(batch) == 4


def test_partition_streams_in_batches_of_the_requested_size() -> None:
    batches = _partition(_matcher(), batch_size=3)
    assert [len(b) for b in batches] == [3, 1]


def test_partition_reads_its_inputs_lazily() -> None:
    consumed: list[int] = []

    def comments() -> Any:
        base = business_comment_rows()[0]
        for i in range(10):
            consumed.append(i)
            yield base | {"comment_id": f"c{i}"}

    batches = normalize_partition(ACCOUNT, None, [], comments(), {}, _matcher(), 4, now=NOW)
    first = next(batches)
    assert len(first) == 4
    assert consumed == [0, 1, 2, 3]


def test_a_stored_account_is_accepted_and_brings_its_keywords() -> None:
    account = Account(
        account_key="acme",
        api="business",
        open_id="biz-1",
        tenant_id=7,
        source_id="src",
        keywords=("nice",),
        keyword_mode="filter",
    )
    (batch,) = normalize_partition(
        account, None, [business_video_row()], business_comment_rows(), {}
    )
    assert [(m["tenant_id"], m["source_id"], m["content"]) for m in batch] == [(7, "src", "nice")]


def test_mention_source_defaults() -> None:
    source = MentionSource("acme")
    assert (source.tenant_id, source.source_id, source.keywords, source.keyword_mode) == (
        1,
        None,
        (),
        "tag",
    )


def test_the_mentions_package_imports_neither_dagster_nor_sql_drivers() -> None:
    code = (
        "import sys, tiktok_etl.mentions; "
        "print(sorted(m for m in ('dagster', 'sqlalchemy', 'psycopg') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
