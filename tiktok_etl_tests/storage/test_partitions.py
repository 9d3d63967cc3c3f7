from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tiktok_etl.storage.errors import PartitionWriteError
from tiktok_etl.storage.partitions import count_partition, read_partition, write_partition
from tiktok_etl.storage.rejects import read_rejects
from tiktok_etl.storage.tables import COMMENTS, USERS, VIDEOS
from tiktok_etl_tests.storage.sample_rows import (
    AWKWARD_TEXTS,
    DAY,
    comment_row,
    user_row,
    video_row,
)


def _ids(rows: list[dict]) -> list[str]:
    return [r["video_id"] for r in rows]


def test_write_then_read_returns_the_rows(engine: sa.Engine) -> None:
    rows = [video_row("v2"), video_row("v1")]
    result = write_partition(engine, VIDEOS, "acme", DAY, rows)
    assert (result.rows_written, result.rows_deleted) == (2, 0)
    stored = read_partition(engine, VIDEOS, "acme", DAY)
    assert _ids(stored) == ["v1", "v2"]
    assert stored[0] == {**{c: None for c in VIDEOS.column_names}, **video_row("v1")}


def test_rerun_with_the_same_rows_replaces_instead_of_duplicating(engine: sa.Engine) -> None:
    rows = [video_row("v1"), video_row("v2")]
    write_partition(engine, VIDEOS, "acme", DAY, rows)
    before = read_partition(engine, VIDEOS, "acme", DAY)
    result = write_partition(engine, VIDEOS, "acme", DAY, rows)
    assert (result.rows_written, result.rows_deleted) == (2, 2)
    assert read_partition(engine, VIDEOS, "acme", DAY) == before


def test_rerun_with_fewer_rows_removes_stale_ones(engine: sa.Engine) -> None:
    write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1"), video_row("v2")])
    write_partition(engine, VIDEOS, "acme", DAY, [video_row("v2", like_count=99)])
    stored = read_partition(engine, VIDEOS, "acme", DAY)
    assert _ids(stored) == ["v2"]
    assert stored[0]["like_count"] == 99


def test_empty_rerun_empties_the_partition(engine: sa.Engine) -> None:
    write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1")])
    result = write_partition(engine, VIDEOS, "acme", DAY, [])
    assert (result.rows_written, result.rows_deleted) == (0, 1)
    assert count_partition(engine, VIDEOS, "acme", DAY) == 0


def test_other_partitions_are_untouched(engine: sa.Engine) -> None:
    next_day = DAY + timedelta(days=1)
    write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1")])
    write_partition(engine, VIDEOS, "other", DAY, [video_row("v1", account_key="other")])
    write_partition(engine, VIDEOS, "acme", next_day, [video_row("v9", day=next_day)])
    write_partition(engine, VIDEOS, "acme", DAY, [])
    assert count_partition(engine, VIDEOS, "other", DAY) == 1
    assert count_partition(engine, VIDEOS, "acme", next_day) == 1


def test_row_of_another_partition_is_rejected(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match=r"does not belong to partition acme\|2026-11-05"):
        write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1", day=date(2026, 11, 4))])
    with pytest.raises(ValueError, match="account_key='other'"):
        write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1", account_key="other")])


def test_duplicate_key_in_a_batch_is_rejected_naming_the_key(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match=r"duplicate key .*video_id='v1'"):
        write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1"), video_row("v1")])


def test_unknown_column_and_missing_required_value_are_rejected(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match=r"unknown columns \['likes'\]"):
        write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1", likes=3)])
    with pytest.raises(ValueError, match="create_time is required"):
        write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1", create_time=None)])


def test_naive_datetime_is_rejected(engine: sa.Engine) -> None:
    naive = video_row("v1")["create_time"].replace(tzinfo=None)
    with pytest.raises(TypeError, match="timezone-aware"):
        write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1", create_time=naive)])


def test_a_row_postgres_refuses_keeps_previous_rows(engine: sa.Engine) -> None:
    write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1")])
    # a bigint overflow is cleaned to NULL (coercion); a constraint still refuses a row
    with engine.begin() as conn:
        conn.execute(
            sa.text("ALTER TABLE tiktok_videos ADD CONSTRAINT seen CHECK (view_count >= 0)")
        )
    refused = video_row("v2", view_count=-1)
    with pytest.raises(PartitionWriteError, match=r"acme\|2026-11-05.*check constraint"):
        write_partition(engine, VIDEOS, "acme", DAY, [video_row("v3"), refused])
    assert _ids(read_partition(engine, VIDEOS, "acme", DAY)) == ["v1"]


def test_failure_after_delete_and_insert_keeps_previous_rows(engine: sa.Engine) -> None:
    write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1")])
    with pytest.raises(RuntimeError, match="crash before commit"), engine.begin() as conn:
        result = write_partition(conn, VIDEOS, "acme", DAY, [video_row("v2"), video_row("v3")])
        assert (result.rows_written, result.rows_deleted) == (2, 1)
        assert _ids(read_partition(conn, VIDEOS, "acme", DAY)) == ["v2", "v3"]
        raise RuntimeError("crash before commit")
    assert _ids(read_partition(engine, VIDEOS, "acme", DAY)) == ["v1"]


def test_a_caller_transaction_can_write_several_partitions(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        write_partition(conn, VIDEOS, "acme", DAY, [video_row("v1")])
        write_partition(conn, VIDEOS, "acme", DAY, [video_row("v2")])
        write_partition(conn, COMMENTS, "acme", DAY, [comment_row("c1")])
    assert _ids(read_partition(engine, VIDEOS, "acme", DAY)) == ["v2"]
    assert count_partition(engine, COMMENTS, "acme", DAY) == 1


def test_awkward_text_round_trips_exactly(engine: sa.Engine) -> None:
    rows = [
        comment_row(f"c{i}", text=text, raw={"text": text, "n": i})
        for i, text in enumerate(AWKWARD_TEXTS)
    ]
    write_partition(engine, COMMENTS, "acme", DAY, rows)
    stored = {r["comment_id"]: r for r in read_partition(engine, COMMENTS, "acme", DAY)}
    for i, text in enumerate(AWKWARD_TEXTS):
        assert stored[f"c{i}"]["text"] == text
        assert stored[f"c{i}"]["raw"] == {"text": text, "n": i}


def test_nul_is_stripped_and_lone_surrogates_replaced_in_text_and_json(
    engine: sa.Engine,
) -> None:
    row = comment_row(
        "c1",
        text="a\x00b\ud800c",
        username="\x00",
        raw={"te\x00xt": ["x\x00y", "\udfff"], "nested": {"k": "\x00"}},
    )
    write_partition(engine, COMMENTS, "acme", DAY, [row])
    (stored,) = read_partition(engine, COMMENTS, "acme", DAY)
    assert stored["text"] == "ab\ufffdc"
    assert stored["username"] == ""
    assert stored["raw"] == {"text": ["xy", "\ufffd"], "nested": {"k": ""}}


def test_jsonb_payload_round_trips_exactly(engine: sa.Engine) -> None:
    payload = {
        "id": "7300000000000000001",
        "big": 2**62,
        "float": 0.1,
        "neg": -1.5e-10,
        "flags": [True, False, None],
        "nested": {"empty": {}, "list": [], "unicode": "é😀", "quote": 'he said "hi"'},
        "zero": 0,
    }
    write_partition(engine, USERS, "acme", DAY, [user_row(raw=payload)])
    (stored,) = read_partition(engine, USERS, "acme", DAY)
    assert stored["raw"] == payload


def test_concurrent_writers_of_one_partition_serialize(engine: sa.Engine) -> None:
    # the first writer holds its transaction open after writing; the second must wait for
    # it and then replace its rows, leaving exactly the second batch
    first_wrote = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with engine.begin() as conn:
                write_partition(conn, VIDEOS, "acme", DAY, [video_row("a1"), video_row("a2")])
                first_wrote.set()
                time.sleep(0.5)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    assert first_wrote.wait(10)
    started = time.monotonic()
    result = write_partition(engine, VIDEOS, "acme", DAY, [video_row("b1")])
    waited = time.monotonic() - started
    thread.join()
    assert errors == []
    assert waited >= 0.3
    assert result.rows_deleted == 2
    assert _ids(read_partition(engine, VIDEOS, "acme", DAY)) == ["b1"]


def test_rejects_are_replaced_with_the_partition(engine: sa.Engine) -> None:
    first = [({"id": "bad1"}, "missing create_time", "validation")]
    write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1")], rejects=first)
    second = [
        ({"id": "bad2"}, "missing create_time", "validation"),
        ({"id": "bad3"}, "unparseable", "parse"),
    ]
    result = write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1")], rejects=second)
    assert result.rejects_written == 2
    stored = read_rejects(engine, "tiktok_videos", "acme", DAY)
    assert [(r.payload, r.reason, r.kind) for r in stored] == second


def test_failing_rejects_roll_back_the_partition_write(engine: sa.Engine) -> None:
    write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1")])
    # every payload is storable (coercion.to_json_text): a constraint refuses this reject
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE tiktok_rejects ADD CONSTRAINT r CHECK (reason <> 'no')"))
    not_storable = [({"x": float("nan")}, "no", "validation")]
    with pytest.raises(sa.exc.IntegrityError):
        write_partition(engine, VIDEOS, "acme", DAY, [video_row("v2")], rejects=not_storable)
    assert _ids(read_partition(engine, VIDEOS, "acme", DAY)) == ["v1"]
