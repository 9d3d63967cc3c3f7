"""sl_mentions upserts on a real PostgreSQL: refresh, preserve workflow columns, soft delete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tiktok_etl.mentions import MentionSource, normalize_partition
from tiktok_etl.mentions.schema import arrow_schema, mentions_arrow_table
from tiktok_etl.storage.errors import PartitionWriteError
from tiktok_etl.storage.mentions_store import (
    UpsertResult,
    iter_mentions,
    iter_mentions_arrow,
    read_mentions,
    upsert_mentions,
)
from tiktok_etl_tests.mentions.samples import DAY, NOW, mention

LATER = NOW + timedelta(hours=1)
OTHER_DAY = DAY - timedelta(days=1)


def _row(engine: sa.Engine, external_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT * FROM sl_mentions WHERE external_id = :id"), {"id": external_id}
        ).one()
    return dict(row._mapping)


def _live_ids(engine: sa.Engine, account_key: str = "acme", day: date = DAY) -> list[str]:
    rows = read_mentions(engine, account_key, day, include_deleted=False)
    return [r["external_id"] for r in rows]


def _set_status(engine: sa.Engine, external_id: str, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE sl_mentions SET status = :s WHERE external_id = :id"),
            {"s": status, "id": external_id},
        )


def test_first_write_inserts_with_status_new(engine: sa.Engine) -> None:
    result = upsert_mentions(engine, "acme", DAY, [mention("v1"), mention("v2")])

    assert result == UpsertResult(inserted=2, updated=0, soft_deleted=0, restored=0)
    stored = _row(engine, "v1")
    assert stored["status"] == "new"
    assert stored["ingested_at"] == stored["updated_at"] == NOW
    assert stored["deleted_at"] is None
    assert stored["raw_data"] == {"id": "v1", "like_count": 10}
    assert stored["media_urls"] == ["https://p16.example/v1.jpeg"]
    assert stored["matched_keywords"] == ["acme"]
    assert stored["dimensions"] == {"width": 1080, "height": 1920}


def test_stored_rows_read_back_as_normalized(engine: sa.Engine) -> None:
    row = mention("v1", content="emoji 😀 عربي 日本語 \\N tab\t")
    upsert_mentions(engine, "acme", DAY, [row])
    (stored,) = read_mentions(engine, "acme", DAY)
    assert stored == row


def test_awkward_text_survives_in_every_kind_of_column(engine: sa.Engine) -> None:
    awkward = ['say "hi"', "back\\slash \\N", "comma, {brace}", "", "NULL", "عربي 日本語 😀"]
    row = mention(
        "v1",
        content="\n".join(awkward),
        media_urls=awkward,
        matched_keywords=awkward,
        raw_data={"text": awkward, "nested": {"k": [1, 2.5, None, True]}},
    )
    upsert_mentions(engine, "acme", DAY, [row])
    (stored,) = read_mentions(engine, "acme", DAY)
    assert stored == row


def test_text_postgres_cannot_store_is_cleaned_as_in_the_raw_tables(engine: sa.Engine) -> None:
    row = mention("v1", content="nul\x00here \ud800", raw_data={"t": "a\x00b"})
    upsert_mentions(engine, "acme", DAY, [row])
    stored = _row(engine, "v1")
    assert stored["content"] == "nulhere \ufffd"
    assert stored["raw_data"] == {"t": "ab"}


def test_a_value_of_the_wrong_type_is_refused_before_any_sql(engine: sa.Engine) -> None:
    with pytest.raises(TypeError, match="likes_count"):
        upsert_mentions(engine, "acme", DAY, [mention("v1", likes_count="many")])
    with pytest.raises(ValueError, match="unknown columns"):
        upsert_mentions(engine, "acme", DAY, [mention("v1", sentiment="positive")])
    with pytest.raises(ValueError, match="raw_data is required"):
        upsert_mentions(engine, "acme", DAY, [mention("v1", raw_data=None)])


def test_reingestion_refreshes_metrics_and_keeps_workflow_state(engine: sa.Engine) -> None:
    upsert_mentions(engine, "acme", DAY, [mention("v1", likes=10, views=1000)])
    _set_status(engine, "v1", "reviewed")

    refreshed = mention(
        "v1", likes=99, views=2000, content="acme v2", ingested_at=LATER, updated_at=LATER
    )
    result = upsert_mentions(engine, "acme", DAY, [refreshed])

    assert result == UpsertResult(inserted=0, updated=1, soft_deleted=0, restored=0)
    stored = _row(engine, "v1")
    assert (stored["likes_count"], stored["views_count"]) == (99, 2000)
    assert stored["content"] == "acme v2"
    assert stored["engagement_rate"] == pytest.approx((99 + 2 + 1) / 2000)
    assert stored["updated_at"] == LATER
    assert stored["ingested_at"] == NOW
    assert stored["status"] == "reviewed"


def test_the_store_fills_status_and_timestamps_left_out_of_rows(engine: sa.Engine) -> None:
    row = mention("v1")
    for name in ("status", "ingested_at", "updated_at", "deleted_at"):
        del row[name]
    upsert_mentions(engine, "acme", DAY, [row])
    stored = _row(engine, "v1")
    assert stored["status"] == "new"
    assert stored["ingested_at"] == stored["updated_at"]
    assert stored["ingested_at"] > NOW


def test_columns_added_by_a_triage_workflow_survive_reingestion(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE sl_mentions ADD COLUMN assignee text"))
        conn.execute(sa.text("ALTER TABLE sl_mentions ADD COLUMN priority int NOT NULL DEFAULT 3"))
    upsert_mentions(engine, "acme", DAY, [mention("v1")])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sl_mentions SET assignee = 'sam'"))

    upsert_mentions(engine, "acme", DAY, [mention("v1", likes=50)])

    assert _row(engine, "v1")["assignee"] == "sam"
    upsert_mentions(engine, "acme", DAY, [mention("v1"), mention("v2")])
    assert (_row(engine, "v2")["assignee"], _row(engine, "v2")["priority"]) == (None, 3)


def test_a_mention_missing_from_a_reread_is_soft_deleted(engine: sa.Engine) -> None:
    upsert_mentions(engine, "acme", DAY, [mention("v1"), mention("v2")])
    _set_status(engine, "v2", "reviewed")

    result = upsert_mentions(engine, "acme", DAY, [mention("v1")])

    assert result == UpsertResult(inserted=0, updated=1, soft_deleted=1, restored=0)
    gone = _row(engine, "v2")
    assert gone["deleted_at"] is not None
    assert gone["status"] == "reviewed"
    assert _live_ids(engine) == ["v1"]
    assert [r["external_id"] for r in read_mentions(engine, "acme", DAY)] == ["v1", "v2"]


def test_a_mention_that_reappears_is_restored(engine: sa.Engine) -> None:
    upsert_mentions(engine, "acme", DAY, [mention("v1"), mention("v2")])
    upsert_mentions(engine, "acme", DAY, [mention("v1")])

    result = upsert_mentions(engine, "acme", DAY, [mention("v1"), mention("v2")])

    assert result == UpsertResult(inserted=0, updated=2, soft_deleted=0, restored=1)
    assert _row(engine, "v2")["deleted_at"] is None
    assert _live_ids(engine) == ["v1", "v2"]


def test_a_soft_deleted_mention_stays_deleted_on_later_rereads(engine: sa.Engine) -> None:
    upsert_mentions(engine, "acme", DAY, [mention("v1"), mention("v2")])
    upsert_mentions(engine, "acme", DAY, [mention("v1")])
    deleted_at = _row(engine, "v2")["deleted_at"]

    result = upsert_mentions(engine, "acme", DAY, [mention("v1")])

    assert result.soft_deleted == 0
    assert _row(engine, "v2")["deleted_at"] == deleted_at


def test_an_empty_reread_soft_deletes_the_whole_partition(engine: sa.Engine) -> None:
    upsert_mentions(engine, "acme", DAY, [mention("v1"), mention("v2")])
    result = upsert_mentions(engine, "acme", DAY, [])
    assert result == UpsertResult(inserted=0, updated=0, soft_deleted=2, restored=0)
    assert _live_ids(engine) == []


def test_other_partitions_are_untouched(engine: sa.Engine) -> None:
    upsert_mentions(engine, "acme", DAY, [mention("a1")])
    upsert_mentions(engine, "acme", OTHER_DAY, [mention("a0", day=OTHER_DAY)])
    upsert_mentions(engine, "globex", DAY, [mention("g1", account_key="globex")])

    upsert_mentions(engine, "acme", DAY, [])

    assert _live_ids(engine, "acme", OTHER_DAY) == ["a0"]
    assert _live_ids(engine, "globex", DAY) == ["g1"]


def test_filter_mode_soft_deletes_mentions_that_no_longer_match(engine: sa.Engine) -> None:
    def write(keywords: tuple[str, ...]) -> UpsertResult:
        source = MentionSource("acme", tenant_id=123, keywords=keywords, keyword_mode="filter")
        videos = [
            {**_raw_video("v1"), "description": "acme launch"},
            {**_raw_video("v2"), "description": "globex launch"},
        ]
        batches = normalize_partition(source, None, videos, [], {}, now=NOW)
        return upsert_mentions(engine, "acme", DAY, batches)

    assert write(("launch",)).inserted == 2
    result = write(("acme",))

    assert result == UpsertResult(inserted=0, updated=1, soft_deleted=1, restored=0)
    assert _live_ids(engine) == ["v1"]
    assert _row(engine, "v1")["matched_keywords"] == ["acme"]


def _raw_video(video_id: str, views: int = 1000) -> dict[str, Any]:
    return {
        "account_key": "acme",
        "date": DAY,
        "api": "business",
        "video_id": video_id,
        "create_time": datetime(2026, 11, 5, 12, 0, tzinfo=UTC),
        "description": f"video {video_id}",
        "share_url": f"https://www.tiktok.com/@acme/video/{video_id}",
        "cover_image_url": None,
        "like_count": 1,
        "comment_count": 0,
        "share_count": 0,
        "view_count": views,
        "reach": views,
        "raw": {"item_id": video_id},
    }


def _raw_comment(comment_id: str, video_id: str) -> dict[str, Any]:
    return {
        "account_key": "acme",
        "date": DAY,
        "comment_id": comment_id,
        "video_id": video_id,
        "parent_comment_id": None,
        "create_time": datetime(2026, 11, 5, 13, 0, tzinfo=UTC),
        "text": f"comment {comment_id} about acme" if comment_id.endswith("0") else "hi",
        "like_count": 1,
        "reply_count": 0,
        "username": "fan",
        "raw": {"comment_id": comment_id},
    }


def test_a_partition_streams_through_many_batches(engine: sa.Engine) -> None:
    pulled: list[int] = []

    def comments() -> Iterator[dict[str, Any]]:
        for i in range(12_000):
            pulled.append(i)
            yield _raw_comment(f"c{i}", "v0")

    source = MentionSource("acme", tenant_id=123, keywords=("acme",))
    batches = normalize_partition(
        source, None, [_raw_video("v0")], comments(), {}, batch_size=700, now=NOW
    )
    assert pulled == []  # nothing is read before the store consumes it

    result = upsert_mentions(engine, "acme", DAY, batches)

    assert result == UpsertResult(inserted=12_001, updated=0, soft_deleted=0, restored=0)
    with engine.connect() as conn:
        hits = conn.execute(
            sa.text("SELECT count(*) FROM sl_mentions WHERE matched_keywords = '{acme}'")
        ).scalar()
    assert hits == 1_200
    assert _row(engine, "c11999")["url"] == "https://www.tiktok.com/@acme/video/v0"


def test_rows_and_batches_may_be_mixed(engine: sa.Engine) -> None:
    result = upsert_mentions(engine, "acme", DAY, [mention("v1"), [mention("v2"), mention("v3")]])
    assert result.inserted == 3


def test_a_duplicate_across_batches_is_refused_and_nothing_changes(engine: sa.Engine) -> None:
    upsert_mentions(engine, "acme", DAY, [mention("v0")])
    with pytest.raises(ValueError, match="external_id='v1'"):
        upsert_mentions(engine, "acme", DAY, [[mention("v1")], [mention("v1")]])
    assert _live_ids(engine) == ["v0"]


def test_a_row_of_another_partition_is_refused(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="does not belong"):
        upsert_mentions(engine, "acme", DAY, [mention("v1", day=OTHER_DAY)])


def test_a_failure_mid_stream_keeps_the_previous_state(engine: sa.Engine) -> None:
    upsert_mentions(engine, "acme", DAY, [mention("v1", likes=1)])

    def batches() -> Iterator[list[dict[str, Any]]]:
        yield [mention("v1", likes=2)]
        raise RuntimeError("the API went away")

    with pytest.raises(RuntimeError):
        upsert_mentions(engine, "acme", DAY, batches())
    assert _row(engine, "v1")["likes_count"] == 1


def test_a_value_postgres_refuses_is_a_partition_write_error(engine: sa.Engine) -> None:
    upsert_mentions(engine, "acme", DAY, [mention("v1")])
    # values beyond bigint are cleaned to NULL (coercion); a constraint still refuses rows
    with engine.begin() as conn:
        conn.execute(
            sa.text("ALTER TABLE sl_mentions ADD CONSTRAINT positive CHECK (likes_count >= 0)")
        )
    with pytest.raises(PartitionWriteError, match=r"sl_mentions partition acme\|2026-11-05"):
        upsert_mentions(engine, "acme", DAY, [mention("v2", likes=-1)])
    assert _live_ids(engine) == ["v1"]


def test_with_a_connection_the_write_joins_the_callers_transaction(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        upsert_mentions(conn, "acme", DAY, [mention("v1")])
        upsert_mentions(conn, "acme", DAY, [mention("v1"), mention("v2")])
        conn.rollback()
    assert _live_ids(engine) == []


def test_the_daily_view_matches_a_hand_computation(engine: sa.Engine) -> None:
    source = MentionSource("acme", tenant_id=123, keywords=("acme",))
    videos = [
        {**_raw_video("v1", views=1000), "like_count": 10, "comment_count": 5, "share_count": 5},
        {**_raw_video("v2", views=0), "like_count": 3, "comment_count": 1, "share_count": 0,
         "description": "acme"},
        {**_raw_video("v3", views=500), "like_count": 40, "comment_count": 10, "share_count": 0,
         "description": "#acme"},
        {**_raw_video("gone", views=9999), "like_count": 999},
    ]  # fmt: skip
    comments = [_raw_comment("c10", "v1"), _raw_comment("c11", "v1")]
    upsert_mentions(engine, "acme", DAY, normalize_partition(source, None, videos, comments, {}))
    upsert_mentions(
        engine, "acme", DAY, normalize_partition(source, None, videos[:3], comments, {})
    )

    with engine.connect() as conn:
        rows = (
            conn.execute(sa.text("SELECT * FROM sl_mentions_daily ORDER BY post_type"))
            .mappings()
            .all()
        )

    comment_day, video_day = (dict(r) for r in rows)
    assert video_day == {
        "tenant_id": 123,
        "platform": "tiktok",
        "account_key": "acme",
        "day": DAY,
        "post_type": "video",
        "mentions": 3,
        "likes": 10 + 3 + 40,
        "comments": 5 + 1 + 10,
        "shares": 5 + 0 + 0,
        "views": 1000 + 0 + 500,
        "avg_engagement_rate": pytest.approx((20 / 1000 + 50 / 500) / 2),
        "keyword_hits": 2,
    }
    assert comment_day == {
        "tenant_id": 123,
        "platform": "tiktok",
        "account_key": "acme",
        "day": DAY,
        "post_type": "comment",
        "mentions": 2,
        "likes": 2,
        "comments": 0,
        "shares": 0,
        "views": 0,
        "avg_engagement_rate": None,
        "keyword_hits": 1,
    }


def test_a_partition_exports_in_batches_to_arrow(engine: sa.Engine) -> None:
    upsert_mentions(engine, "acme", DAY, [mention(f"v{i:02d}") for i in range(25)])
    _set_status(engine, "v03", "reviewed")
    upsert_mentions(engine, "acme", DAY, [mention(f"v{i:02d}") for i in range(1, 25)])

    batches = list(iter_mentions(engine, "acme", DAY, batch_size=10))

    assert [len(b) for b in batches] == [10, 10, 5]
    tables = [mentions_arrow_table(b) for b in batches]
    assert all(t.schema == arrow_schema() for t in tables)
    first = tables[0].to_pylist()
    assert first[0]["external_id"] == "v00"
    assert first[0]["deleted_at"] is not None
    assert first[3]["status"] == "reviewed"
    assert first[3]["raw_data"] == '{"id":"v03","like_count":10}'


def test_a_failed_write_in_a_callers_transaction_does_not_block_the_next(
    engine: sa.Engine,
) -> None:
    with engine.connect() as conn:
        with pytest.raises(ValueError, match="appears twice"):
            upsert_mentions(conn, "acme", DAY, [[mention("v1")], [mention("v1")]])
        upsert_mentions(conn, "acme", DAY, [mention("v1")])
        conn.commit()
    assert _live_ids(engine) == ["v1"]


def _parsed(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    for row in rows:
        for name in ("raw_data", "dimensions"):
            if row[name] is not None:
                row[name] = json.loads(row[name])
    return rows


def test_the_columnar_export_equals_the_row_export(engine: sa.Engine) -> None:
    odd = datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    upsert_mentions(
        engine,
        "acme",
        DAY,
        [mention(f"v{i:02d}", content='Zoë 🎉 \\ "q"\n x' if i % 3 else "acme") for i in range(23)]
        + [
            mention(
                "w1",
                dimensions=None,
                media_urls=[],
                matched_keywords=["a,b", "", 'say "hi"', "{x}", "NULL"],
                raw_data={"é": [1, 2.5, None, True], "nested": {"z": "\u00e9 🎉"}},
                published_at=odd,
                duration=None,
                author_verified=False,
                likes_count=None,
            )
        ],
    )
    _set_status(engine, "v03", "reviewed")
    upsert_mentions(engine, "acme", DAY, [mention(f"v{i:02d}") for i in range(1, 23)])
    upsert_mentions(engine, "other", DAY, [mention("o1", account_key="other")])

    for include_deleted in (True, False):
        tables = list(
            iter_mentions_arrow(engine, "acme", DAY, include_deleted=include_deleted, batch_size=10)
        )
        expected = [
            mentions_arrow_table(b)
            for b in iter_mentions(
                engine, "acme", DAY, include_deleted=include_deleted, batch_size=10
            )
        ]
        assert [t.num_rows for t in tables] == [t.num_rows for t in expected]
        assert all(t.schema == arrow_schema() for t in tables)
        assert _parsed(pa.concat_tables(tables)) == _parsed(pa.concat_tables(expected))
    exported = pa.concat_tables(iter_mentions_arrow(engine, "acme", DAY)).to_pylist()
    assert [r["external_id"] for r in exported] == [*sorted(f"v{i:02d}" for i in range(23)), "w1"]
    assert exported[0]["deleted_at"] is not None and exported[3]["status"] == "reviewed"
    assert exported[-1]["published_at"] == odd


def test_the_columnar_export_of_an_empty_partition_is_empty(engine: sa.Engine) -> None:
    assert list(iter_mentions_arrow(engine, "acme", DAY)) == []


@pytest.mark.parametrize("stored_before", [False, True])
def test_a_key_twice_in_one_write_names_the_partition_and_the_key(
    engine: sa.Engine, stored_before: bool
) -> None:
    if stored_before:
        upsert_mentions(engine, "acme", DAY, [mention("v1"), mention("v2")])
    with pytest.raises(ValueError, match="appears twice") as raised:
        upsert_mentions(engine, "acme", DAY, [[mention("v0"), mention("v1")], [mention("v1")]])
    assert f"acme|{DAY.isoformat()}" in str(raised.value)
    assert "external_id='v1'" in str(raised.value)
    assert _live_ids(engine) == (["v1", "v2"] if stored_before else [])
