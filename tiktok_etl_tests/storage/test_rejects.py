from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tiktok_etl.storage.partitions import write_partition
from tiktok_etl.storage.rejects import Reject, read_rejects, record_rejects
from tiktok_etl.storage.tables import COMMENTS
from tiktok_etl_tests.storage.sample_rows import DAY, comment_row

T0 = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)


def test_record_rejects_replaces_only_its_partition(engine: sa.Engine) -> None:
    record_rejects(engine, "tiktok_comments", "acme", DAY, [({"id": 1}, "bad", "validation")])
    record_rejects(
        engine, "tiktok_comments", "acme", DAY + timedelta(days=1), [({"id": 2}, "x", "parse")]
    )
    record_rejects(engine, "tiktok_videos", "acme", DAY, [({"id": 3}, "y", "parse")])
    record_rejects(engine, "tiktok_comments", "acme", DAY, [Reject({"id": 4}, "again", "parse")])
    comments = read_rejects(engine, "tiktok_comments", "acme")
    assert [(r.date, r.payload) for r in comments] == [
        (DAY + timedelta(days=1), {"id": 2}),
        (DAY, {"id": 4}),
    ]
    assert [r.payload for r in read_rejects(engine, "tiktok_videos")] == [{"id": 3}]


def test_reject_payloads_are_always_storable(engine: sa.Engine) -> None:
    payload = {"when": T0, "bytes": b"\x00", "text": "nul\x00here", "items": ("a", 1)}
    record_rejects(engine, "tiktok_comments", "acme", DAY, [(payload, "odd", "validation")])
    (stored,) = read_rejects(engine, "tiktok_comments", "acme", DAY)
    assert stored.payload == {
        "when": str(T0),
        "bytes": str(b"\x00"),
        "text": "nulhere",
        "items": ["a", 1],
    }
    assert (stored.reason, stored.kind) == ("odd", "validation")
    assert stored.table_name == "tiktok_comments"


def test_empty_rejects_clear_the_partition(engine: sa.Engine) -> None:
    record_rejects(engine, "tiktok_comments", "acme", DAY, [({}, "bad", "validation")])
    write_partition(engine, COMMENTS, "acme", DAY, [comment_row("c1")], rejects=[])
    assert read_rejects(engine, "tiktok_comments", "acme", DAY) == []
