"""Every storage writer cleans hostile values the one documented way (see ``coercion``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tiktok_etl.mentions.keywords import KeywordMatcher
from tiktok_etl.mentions.normalize import MentionSource, normalize_comment
from tiktok_etl.storage.coercion import clean_bigint, clean_double, clean_text, to_json_text
from tiktok_etl.storage.comment_cache import CachedComment, CommentCache, VideoRead
from tiktok_etl.storage.mentions_store import read_mentions, upsert_mentions
from tiktok_etl.storage.parquet import read_parquet_partition, write_parquet_partition
from tiktok_etl.storage.partitions import read_partition, write_partition
from tiktok_etl.storage.rejects import read_rejects, record_rejects
from tiktok_etl.storage.tables import COMMENTS, VIDEOS
from tiktok_etl_tests.storage.sample_rows import DAY, comment_row, video_row

T0 = datetime(2026, 11, 5, 13, 0, tzinfo=UTC)
HOSTILE_PAYLOAD: dict[str, Any] = {
    "text": "nul\x00and lone \ud800 surrogate\x07",
    "ke\x00y\udfff": [math.nan, math.inf, -math.inf, 2**70],
    "nested": {"new_field": {"deeper": ["\x00"]}},
}
# what PostgreSQL (and the Parquet copy) hold for HOSTILE_PAYLOAD
CLEANED_PAYLOAD: dict[str, Any] = {
    "text": "nuland lone \ufffd surrogate\x07",
    "key\ufffd": ["NaN", "Infinity", "-Infinity", 2**70],
    "nested": {"new_field": {"deeper": [""]}},
}


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [
        ("plain", "plain"),
        ("a\x00b", "ab"),
        ("\ud800x\udfff", "\ufffdx\ufffd"),
        ("tab\tbell\x07", "tab\tbell\x07"),  # other control characters are storable
        ("é\x00\ud83d", "é\ufffd"),
    ],
)
def test_clean_text(value: str, cleaned: str) -> None:
    assert clean_text(value) == cleaned


@pytest.mark.parametrize(
    ("value", "cleaned"), [(0, 0), (2**63 - 1, 2**63 - 1), (2**63, None), (-(2**70), None)]
)
def test_clean_bigint(value: int, cleaned: int | None) -> None:
    assert clean_bigint(value) == cleaned


@pytest.mark.parametrize(
    ("value", "cleaned"), [(1.5, 1.5), (math.nan, None), (math.inf, None), (-math.inf, None)]
)
def test_clean_double(value: float, cleaned: float | None) -> None:
    assert clean_double(value) == cleaned


def test_json_text_is_always_storable_and_keeps_non_finite_numbers_as_strings() -> None:
    import json

    assert json.loads(to_json_text(HOSTILE_PAYLOAD)) == CLEANED_PAYLOAD
    assert to_json_text({"a": 1}) == '{"a":1}'


def test_raw_tables_and_parquet_store_hostile_values_cleaned(
    engine: sa.Engine, tmp_path: Any
) -> None:
    big = "x" * (4 * 1024 * 1024)
    rows = [
        video_row(
            "v1",
            like_count=2**70,
            view_count=-(2**64),
            duration=math.nan,
            description="bad\x00\ud800",
            raw=HOSTILE_PAYLOAD,
        ),
        video_row("v2", duration=math.inf, description=big),
    ]
    write_partition(engine, VIDEOS, "acme", DAY, rows)
    root = str(tmp_path / "parquet")
    write_parquet_partition(root, VIDEOS, "acme", DAY, rows)
    for stored in (
        read_partition(engine, VIDEOS, "acme", DAY),
        read_parquet_partition(root, VIDEOS, "acme", DAY),
    ):
        first, second = stored
        assert (first["like_count"], first["view_count"], first["duration"]) == (None, None, None)
        assert first["description"] == "bad\ufffd"
        assert first["raw"] == CLEANED_PAYLOAD
        assert second["duration"] is None and second["description"] == big


def test_rejects_store_non_finite_numbers(engine: sa.Engine) -> None:
    record_rejects(engine, "tiktok_comments", "acme", DAY, [(HOSTILE_PAYLOAD, "bad\x00", "x")])
    (stored,) = read_rejects(engine, "tiktok_comments", "acme", DAY)
    assert stored.payload == CLEANED_PAYLOAD and stored.reason == "bad"


def test_comment_cache_stores_hostile_comments_and_advances_the_state(engine: sa.Engine) -> None:
    cache = CommentCache(engine)
    comment = CachedComment(
        comment_id="c1",
        video_id="v1",
        parent_comment_id=None,
        create_time=T0,
        reply_count=2**70,
        payload=HOSTILE_PAYLOAD,
    )
    read = VideoRead(
        video_id="v1",
        since=T0,
        comments=[comment],
        replaced_parents=frozenset(),
        comment_count=2**70,
        newest_comment_time=T0,
        full=True,
    )
    cache.apply("acme", [read], checked_at=T0, links={"v1": "https://x/\x00v1"})
    (stored,) = cache.comments_between("acme", T0, datetime(2026, 11, 6, tzinfo=UTC))
    assert stored.payload == CLEANED_PAYLOAD and stored.reply_count is None
    assert cache.states("acme")["v1"].comment_count == 0


def test_mentions_store_cleans_hostile_values(engine: sa.Engine) -> None:
    row = comment_row("c1", text="hi\x00\ud800", like_count=2**70, raw=HOSTILE_PAYLOAD)
    mention = normalize_comment(
        MentionSource("acme"), row, None, KeywordMatcher.for_account(MentionSource("acme")), now=T0
    )
    upsert_mentions(engine, "acme", DAY, [mention])
    (stored,) = read_mentions(engine, "acme", DAY)
    assert stored["content"] == "hi\ufffd"
    assert stored["likes_count"] is None
    assert stored["raw_data"] == CLEANED_PAYLOAD


def test_comments_table_keeps_cleaned_text(engine: sa.Engine) -> None:
    write_partition(engine, COMMENTS, "acme", DAY, [comment_row("c1", text="\x00\udc00")])
    (stored,) = read_partition(engine, COMMENTS, "acme", DAY)
    assert stored["text"] == "\ufffd"
