"""Metric-history writes: one transaction, other days untouched, nothing half-written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tiktok_etl.storage import metrics_copies
from tiktok_etl.storage.metrics_copies import write_account_days, write_video_snapshot
from tiktok_etl.storage.metrics_tables import VIDEO_METRICS
from tiktok_etl.storage.parquet import read_parquet_partition

DAY = date(2026, 11, 10)
AT = datetime(2026, 11, 10, 12, tzinfo=UTC)


def _snapshot(day: date, views: int) -> list[dict[str, Any]]:
    return [
        {"account_key": "brand", "date": day, "video_id": f"v{i}", "api": "business",
         "create_time": AT - timedelta(days=3), "view_count": views + i, "observed_at": AT}
        for i in range(3)
    ]  # fmt: skip


def _breakdowns(day: date) -> list[dict[str, Any]]:
    return [
        {"account_key": "brand", "date": day, "video_id": "v0", "dimension": "audience_countries",
         "key": "US", "share": 0.5}
    ]  # fmt: skip


def _write(engine: sa.Engine, root: str, day: date, views: int) -> None:
    write_video_snapshot(
        engine, root, "brand", day, metrics=_snapshot(day, views), breakdowns=_breakdowns(day),
        rejects=[], breakdown_rejects=[({"entry": "junk"}, "entry is not an object", "k")],
    )  # fmt: skip


def _views(engine: sa.Engine) -> dict[tuple[date, str], int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT date, video_id, view_count FROM tiktok_video_metrics"))
        return {(d, v): n for d, v, n in rows}


def test_a_rerun_replaces_its_day_and_never_touches_another(
    engine: sa.Engine, tmp_path: Path
) -> None:
    root = str(tmp_path)
    _write(engine, root, DAY - timedelta(days=1), 10)
    _write(engine, root, DAY, 20)
    _write(engine, root, DAY, 30)
    views = _views(engine)
    assert len(views) == 6
    assert views[(DAY - timedelta(days=1), "v0")] == 10 and views[(DAY, "v0")] == 30
    parquet = read_parquet_partition(root, VIDEO_METRICS, "brand", DAY)
    assert sorted(r["view_count"] for r in parquet) == [30, 31, 32]


def test_a_failed_copy_leaves_the_previous_snapshot(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(tmp_path)
    _write(engine, root, DAY, 20)
    real = metrics_copies.write_parquet_partition

    def fail_on_breakdowns(root: str, spec: Any, *args: Any, **kwargs: Any) -> str:
        if spec.name == "tiktok_video_breakdowns":
            raise OSError("disk full")
        return real(root, spec, *args, **kwargs)

    monkeypatch.setattr(metrics_copies, "write_parquet_partition", fail_on_breakdowns)
    with pytest.raises(OSError):
        _write(engine, root, DAY, 99)
    assert set(_views(engine).values()) == {20, 21, 22}


def test_account_days_replace_what_was_returned_and_keep_older_days(
    engine: sa.Engine, tmp_path: Path
) -> None:
    root = str(tmp_path)

    def rows(days: range, followers: int) -> dict[date, dict[str, Any]]:
        return {
            DAY - timedelta(days=n): {
                "account_key": "brand", "date": DAY - timedelta(days=n), "api": "business",
                "followers_count": followers, "extra": {"bio_link_clicks": n}, "observed_at": AT,
            }
            for n in days
        }  # fmt: skip

    write_account_days(engine, root, "brand", DAY, rows(range(1, 61), 100), [])
    written = write_account_days(engine, root, "brand", DAY, rows(range(1, 31), 200), [])
    assert written.rows_replaced == 30
    with engine.connect() as conn:
        query = sa.text("SELECT date, followers_count FROM tiktok_account_metrics")
        got = {d: n for d, n in conn.execute(query)}
    assert len(got) == 60
    assert got[DAY - timedelta(days=1)] == 200 and got[DAY - timedelta(days=60)] == 100
