"""Listening end to end: a query registered with the CLI, materialized through Dagster
against the sandbox served over a socket, lands in sl_mentions exactly, with the quota
accounted as TikTok (the sandbox) counts it.

Expected rows come from the sandbox world with plain comprehensions, never from the
connector's own query parser or client.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tiktok_etl.cli import main
from tiktok_etl.defs.research import LISTENING_ASSETS
from tiktok_etl.defs.resources import FIELD_VARIABLES, TikTokConnectorResource
from tiktok_etl.sandbox import SandboxApp, SandboxServer
from tiktok_etl.sandbox.research import CLIENT_KEY, CLIENT_SECRET, PublicVideo
from tiktok_etl.storage.mentions_store import read_mentions
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.research import RESEARCH_COMMENTS, RESEARCH_VIDEOS

from .conftest import NOW

DAY = date(2026, 11, 9)
README = Path(__file__).resolve().parents[2] / "README.md"
PER_VIDEO = 30


@pytest.fixture
def listen_env(project_env: dict[str, str], served: SandboxServer) -> dict[str, str]:
    return {
        **project_env,
        "TIKTOK_ETL_RESEARCH_API_BASE_URL": served.base_url,
        "TIKTOK_ETL_RESEARCH_CLIENT_KEY": CLIENT_KEY,
        "TIKTOK_ETL_RESEARCH_CLIENT_SECRET": CLIENT_SECRET,
        "TIKTOK_ETL_RESEARCH_COMMENTS_PER_VIDEO": str(PER_VIDEO),
    }


def _resource(env: dict[str, str]) -> TikTokConnectorResource:
    values: dict[str, Any] = {f: env[v] for f, v in FIELD_VARIABLES.items() if v in env}
    for name in ("research_comments_per_video", "research_daily_requests"):
        if name in values:
            values[name] = int(values[name])
    return TikTokConnectorResource(**values)


@pytest.fixture
def run_cli(listen_env: dict[str, str]) -> Callable[..., Any]:
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(main, list(args), env=listen_env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return invoke


def _materialize(
    instance: dg.DagsterInstance, env: dict[str, str], key: str, day: date
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        list(LISTENING_ASSETS),
        partition_key=dg.MultiPartitionKey({"query": key, "date": day.isoformat()}),
        instance=instance,
        resources={"tiktok": _resource(env)},
        raise_on_error=False,
    )


def _acme(video: PublicVideo) -> bool:
    return "acme" in video.hashtags or "acme" in video.description.lower()


def _expected(app: SandboxApp) -> tuple[list[PublicVideo], dict[str, str]]:
    """The day's matching public videos, and each expected comment id -> its video id."""
    world = app.research.world
    now = int(NOW.timestamp())
    videos = [v for v in world.videos_on(DAY, now) if _acme(v)]
    comments = {
        str(c.id): str(v.id)
        for v in videos
        for c in [c for c in world.comments_of(v) if c.create_time <= now][:PER_VIDEO]
    }
    return videos, comments


def test_a_listening_querys_mentions_are_exactly_the_sandboxs_matches(
    run_cli: Callable[..., Any],
    instance: dg.DagsterInstance,
    listen_env: dict[str, str],
    engine: sa.Engine,
    sandbox_app: SandboxApp,
) -> None:
    run_cli("listen", "add", "acme", "--query", "#acme OR acme", "--tenant", "42",
            "--source-id", "listen-1")  # fmt: skip
    assert "acme" in instance.get_dynamic_partitions("tiktok_listening_queries")
    result = _materialize(instance, listen_env, "acme", DAY)
    assert result.success

    videos, comments = _expected(sandbox_app)
    assert videos and comments, "the sandbox day must hold matches with comments"
    mentions = {m["external_id"]: m for m in read_mentions(engine, "query.acme", DAY)}
    assert set(mentions) == {str(v.id) for v in videos} | set(comments)

    for v in videos:
        m = mentions[str(v.id)]
        assert (m["source_kind"], m["source_key"], m["account_key"]) == (
            "query", "acme", "query.acme",
        )  # fmt: skip
        assert (m["tenant_id"], m["source_id"], m["post_type"]) == (42, "listen-1", "video")
        assert m["content"] == v.description
        assert m["author_handle"] == "@" + v.username
        assert m["url"] == f"https://www.tiktok.com/@{v.username}/video/{v.id}"
        assert (m["likes_count"], m["views_count"], m["shares_count"]) == (
            v.like_count, v.view_count, v.share_count,
        )  # fmt: skip
        assert m["published_at"] == datetime.fromtimestamp(v.create_time, tz=UTC)
        assert m["raw_data"]["id"] == v.id  # lossless: still the JSON number
        words = v.description.replace("#", "").split()
        expected_terms = ["#acme"] * ("acme" in v.hashtags) + ["acme"] * ("acme" in words)
        assert m["matched_keywords"] == expected_terms
    for comment_id, video_id in comments.items():
        assert mentions[comment_id]["parent_external_id"] in (video_id, *comments)
        assert mentions[comment_id]["source_kind"] == "query"

    raw_videos = read_partition(engine, RESEARCH_VIDEOS, "query.acme", DAY)
    raw_comments = read_partition(engine, RESEARCH_COMMENTS, "query.acme", DAY)
    assert {r["video_id"] for r in raw_videos} == {str(v.id) for v in videos}
    assert {r["comment_id"] for r in raw_comments} == set(comments)

    # the quota as TikTok counts it: every answered request, videos + comments returned
    requests, records = sandbox_app.research.usage(NOW.date())
    assert records == len(videos) + len(comments)
    with engine.connect() as conn:
        ours = conn.execute(sa.text("SELECT requests, records FROM tiktok_research_quota")).one()
    assert tuple(ours) == (requests, records)
    meta = result.asset_materializations_for_node("tiktok_research_comments")[0].metadata
    assert meta["research_requests_used"].value == requests
    assert meta["research_records_used"].value == records
    match = re.search(
        r"<!-- query: postgres-listening -->\s*```sql\n(.*?)```", README.read_text(), re.S
    )
    assert match, "README.md lost its listening query"
    with engine.connect() as conn:
        summary = conn.execute(sa.text(match.group(1))).all()
    assert [tuple(r) for r in summary] == [("acme", len(mentions), len(videos))]
    quota_line = run_cli("listen", "quota").output
    assert f"{requests}/1000 requests, {records}/100000 records (available)" in quota_line


def test_an_exhausted_quota_fails_the_partition_once_naming_the_reset(
    run_cli: Callable[..., Any],
    instance: dg.DagsterInstance,
    listen_env: dict[str, str],
    engine: sa.Engine,
) -> None:
    env = {**listen_env, "TIKTOK_ETL_RESEARCH_DAILY_REQUESTS": "1"}
    run_cli("listen", "add", "acme", "--query", "#acme OR acme")
    result = _materialize(instance, env, "acme", DAY)

    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["tiktok_research_comments"]
    message = failures[0].step_failure_data.error.message
    assert "ResearchQuotaExhausted" in message and "resets at" in message
    assert "not retried" in message
    assert read_partition(engine, RESEARCH_COMMENTS, "query.acme", DAY) == []
    assert read_mentions(engine, "query.acme", DAY) == []  # no partial day presented


def test_listen_commands_validate_and_show_queries(run_cli: Callable[..., Any]) -> None:
    bad = run_cli("listen", "add", "acme", "--query", "acme OR", code=2)
    assert "ends with an operator" in bad.output and len(bad.output.strip().splitlines()) == 1
    run_cli("listen", "add", "acme", "--query", "#acme OR acme", "--region", "us")
    listed = run_cli("listen", "list").output
    assert "acme  tenant=1 regions=US  #acme OR acme" in listed
    assert '"field_name": "region_code", "field_values": ["US"]' in listed
    dup = run_cli("listen", "add", "acme", "--query", "x", code=2)
    assert "already exists" in dup.output
    run_cli("listen", "remove", "acme", "--yes")
    assert "no listening queries" in run_cli("listen", "list").output


def test_the_daily_schedule_asks_for_yesterday_of_every_query_that_covers_it(
    run_cli: Callable[..., Any],
    instance: dg.DagsterInstance,
    listen_env: dict[str, str],
) -> None:
    from tiktok_etl.defs.research import tiktok_listening_schedule

    tick = datetime(2026, 11, 10, 0, 30, tzinfo=UTC)

    def evaluate() -> list[Any]:
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick,
            resources={"tiktok": _resource(listen_env)},
        ) as context:  # fmt: skip
            return list(tiktok_listening_schedule(context))

    (skip,) = evaluate()
    assert isinstance(skip, dg.SkipReason)
    run_cli("listen", "add", "acme", "--query", "#acme OR acme")
    run_cli("listen", "add", "later", "--query", "acme", "--since", "2026-11-20")
    requests = evaluate()
    assert [r.partition_key for r in requests] == [
        dg.MultiPartitionKey({"query": "acme", "date": "2026-11-09"})
    ]
