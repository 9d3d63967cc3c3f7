"""Poison records among good ones, through the served double and the real assets: every good
record lands once in PostgreSQL and Parquet, every bad one is cleaned or rejected, no
partition fails, and the comment state of the poisoned videos still advances."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from tiktok_etl.defs.assets import RAW_ASSETS, tiktok_comments
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.sandbox import SandboxApp, context, records
from tiktok_etl.storage.mentions_store import read_mentions
from tiktok_etl.storage.parquet import read_parquet_partition
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.rejects import read_rejects
from tiktok_etl.storage.tables import COMMENTS, VIDEOS

from .conftest import materialize

DAY = date(2026, 11, 8)
OPEN_ID = "brand-open-id"

# what each poison comment is sent with, and the stored text it must land with (None: rejected)
COMMENT_POISONS: list[tuple[dict[str, Any], str | None]] = [
    ({"text": "nul\x00inside"}, "nulinside"),
    ({"text": "lone \ud800 surrogate"}, "lone \ufffd surrogate"),
    ({"text": "ctrl\x07\x1b", "sentiment": math.nan}, "ctrl\x07\x1b"),
    ({"text": "huge likes", "likes": 2**70, "new": {"nested": [math.inf]}}, "huge likes"),
    ({"text": "big" * 1_000_000, "likes": "12"}, "big" * 1_000_000),
    ({"create_time": "inf", "score": math.nan}, None),
    ({"create_time": 1e300}, None),
]


def _serve_json_as_ascii(status: int, payload: Any, headers: Any = None) -> httpx.Response:
    # ASCII escapes carry lone surrogates (\ud800) as TikTok's JSON would; NaN stays NaN
    body = json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()
    merged = {"content-type": "application/json; charset=utf-8", **(headers or {})}
    return httpx.Response(status, content=body, headers=merged)


@pytest.fixture
def poisoned(
    sandbox_app: SandboxApp, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, tuple[dict[str, Any], str | None]]]:
    """Poison some of the day's comments (ones without replies) and its first video."""
    truth = sandbox_app.world.comments(OPEN_ID, DAY)
    candidates = [c for c in truth if not c.get("replies")]
    chosen = {
        c["comment_id"]: poison for c, poison in zip(candidates, COMMENT_POISONS, strict=False)
    }
    assert len(chosen) == len(COMMENT_POISONS)
    video_id = sandbox_app.world.business_videos(OPEN_ID, DAY)[0]["item_id"]
    real_comment, real_video = records.business_comment, records.business_video

    def comment(record: Any, now: int, replies: int) -> dict[str, Any]:
        rendered = real_comment(record, now, replies)
        poison = chosen.get(rendered["comment_id"])
        return {**rendered, **poison[0]} if poison else rendered

    def video(record: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        rendered = real_video(record, *args, **kwargs)
        if rendered.get("item_id") == video_id:
            rendered |= {"likes": 2**70, "caption": "cap\x00tion \udfff", "weird": math.nan}
        return rendered

    monkeypatch.setattr(records, "business_comment", comment)
    monkeypatch.setattr(records, "business_video", video)
    monkeypatch.setattr(context, "json_response", _serve_json_as_ascii)
    yield {**chosen, video_id: ({}, None)}


def _comment_requests(sandbox_app: SandboxApp) -> int:
    requests = sandbox_app.stats.snapshot()["requests"]
    return sum(n for endpoint, n in requests.items() if "comment" in endpoint)


def test_poison_records_are_cleaned_or_rejected_and_never_fail_a_partition(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    engine: sa.Engine,
    sandbox_app: SandboxApp,
    project_env: dict[str, str],
    poisoned: dict[str, tuple[dict[str, Any], str | None]],
) -> None:
    add_account("brand", "business", OPEN_ID)
    truth = [c["comment_id"] for c in sandbox_app.world.comments(OPEN_ID, DAY)]
    rejected = {cid for cid, (_, text) in poisoned.items() if cid in truth and text is None}
    landed = sorted(set(truth) - rejected)

    result = materialize(instance, resource, "brand", DAY.isoformat(), [*RAW_ASSETS, sl_mentions])
    assert result.success

    root = project_env["TIKTOK_ETL_PARQUET_ROOT"]
    stored = read_partition(engine, COMMENTS, "brand", DAY)
    for copy in (stored, read_parquet_partition(root, COMMENTS, "brand", DAY)):
        assert sorted(r["comment_id"] for r in copy) == landed  # each good one exactly once
        by_id = {r["comment_id"]: r for r in copy}
        for cid, (_, text) in poisoned.items():
            if cid in by_id:
                assert by_id[cid]["text"] == text
    by_id = {r["comment_id"]: r for r in stored}
    with_nan, huge, string_count = (
        by_id[cid] for cid, (p, _) in poisoned.items() if "likes" in p or "sentiment" in p
    )
    assert with_nan["raw"]["sentiment"] == "NaN"
    assert huge["like_count"] is None and huge["raw"]["likes"] == 2**70
    assert huge["raw"]["new"] == {"nested": ["Infinity"]}
    assert string_count["like_count"] == 12

    rejects = read_rejects(engine, "tiktok_comments", account_key="brand", day=DAY)
    assert {r.payload["comment_id"] for r in rejects} == rejected
    assert all("create_time" in r.reason for r in rejects)
    assert any(r.payload.get("score") == "NaN" for r in rejects)

    (video_id,) = (cid for cid, (p, _) in poisoned.items() if not p)
    videos = {r["video_id"]: r for r in read_partition(engine, VIDEOS, "brand", DAY)}
    assert videos[video_id]["like_count"] is None
    assert videos[video_id]["description"] == "caption \ufffd"
    assert videos[video_id]["raw"]["weird"] == "NaN"

    mentions = {m["external_id"]: m for m in read_mentions(engine, "brand", DAY)}
    assert set(landed) | set(videos) <= set(mentions)
    for cid, (_, text) in poisoned.items():
        if cid in mentions and text is not None:
            assert mentions[cid]["content"] == text
    assert mentions[video_id]["likes_count"] is None

    # the poisoned videos' comment state advanced: nothing moved, so nothing is read again
    before = _comment_requests(sandbox_app)
    assert materialize(instance, resource, "brand", DAY.isoformat(), [tiktok_comments]).success
    assert _comment_requests(sandbox_app) == before
    assert sorted(r["comment_id"] for r in read_partition(engine, COMMENTS, "brand", DAY)) == (
        landed
    )
