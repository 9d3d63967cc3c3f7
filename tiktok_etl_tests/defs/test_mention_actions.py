"""Mention actions end to end: the CLI queues, the Dagster job acts once, the sandbox served on
a real socket is TikTok, and the next materialization brings the reply back, linked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tiktok_etl.cli import main
from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.mention_actions import mention_actions_job, tiktok_mention_actions_sensor
from tiktok_etl.defs.mentions import sl_mentions
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.sandbox import SandboxApp, SandboxClock, build_sandbox
from tiktok_etl.sandbox.faults import FaultConfig
from tiktok_etl.storage.mention_actions import MentionActionQueue
from tiktok_etl.storage.partitions import read_partition
from tiktok_etl.storage.tables import COMMENTS

from .conftest import materialize

OPEN_ID = "brand-open-id"
TEXT = "Thank you, see you at the next drop!"
ALL = [*RAW_ASSETS, sl_mentions]


@pytest.fixture
def sandbox_clock() -> SandboxClock:
    # a check compares TikTok's create_time with our database's clock: keep them together
    return SandboxClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def sandbox_app(sandbox_clock: SandboxClock) -> SandboxApp:
    return build_sandbox(seed=5, clock=sandbox_clock, history_days=6, heavy_video_ratio=0.0)


def _now(app: SandboxApp) -> int:
    return int(app.clock().timestamp())


def _a_top_level_comment(app: SandboxApp) -> tuple[date, dict[str, Any]]:
    today = app.clock().date()
    for back in range(1, 6):
        day = today - timedelta(days=back)
        for comment in app.world.comments(OPEN_ID, day):
            if not comment.get("parent_comment_id"):
                return day, comment
    raise AssertionError("the sandbox world has no top-level comment in five days")


def _texts_on_video(app: SandboxApp, video_id: str, text: str) -> list[str]:
    video = app.world.find_video(OPEN_ID, video_id, _now(app))
    assert video is not None
    return [c.comment_id for c in app.world.visible_comments(video, _now(app)) if c.text == text]


def _status(engine: sa.Engine, external_id: str) -> tuple[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT status, deleted_at FROM sl_mentions WHERE external_id = :id"),
            {"id": external_id},
        ).one()
    return row.status, row.deleted_at


@pytest.fixture
def brand(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    sandbox_app: SandboxApp,
) -> tuple[date, dict[str, Any]]:
    """A Business account with one day materialized; that day and one of its comments."""
    add_account("brand", "business", OPEN_ID)
    day, comment = _a_top_level_comment(sandbox_app)
    assert materialize(instance, resource, "brand", day.isoformat(), ALL).success
    return day, comment


def _video_mention(
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    app: SandboxApp,
    video_id: str,
) -> str:
    """The video as a mention: its own day materialized (a comment's day may be later)."""
    video = app.world.find_video(OPEN_ID, video_id, _now(app))
    assert video is not None
    day = datetime.fromtimestamp(video.create_time, UTC).date()
    assert materialize(instance, resource, "brand", day.isoformat(), ALL).success
    return video_id


def _run_job(instance: dg.DagsterInstance, resource: TikTokConnectorResource) -> Any:
    result = mention_actions_job.execute_in_process(
        instance=instance, resources={"tiktok": resource}, raise_on_error=False
    )
    assert result.success
    return result


def test_a_queued_reply_whose_answer_is_lost_is_made_once_and_lands_linked_to_its_parent(
    brand: tuple[date, dict[str, Any]],
    cli: Callable[..., Any],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    sandbox_app: SandboxApp,
    engine: sa.Engine,
) -> None:
    day, parent = brand
    queued = cli("mentions", "reply", parent["comment_id"], "--text", TEXT, "--by", "ana")
    assert "queued action" in queued.output
    # TikTok applies the reply, then the connection drops before the answer
    sandbox_app.set_faults(FaultConfig(drop_after_apply=1))

    _run_job(instance, resource)

    assert sandbox_app.stats.snapshot()["faults"] == {"drop_after_apply": 1}
    replies = _texts_on_video(sandbox_app, parent["video_id"], TEXT)
    assert len(replies) == 1
    [row] = MentionActionQueue(engine).list()
    assert (row.status, row.result_comment_id, row.attempts) == ("done", replies[0], 1)
    assert (row.requested_by, row.parent_comment_id) == ("ana", parent["comment_id"])
    assert _status(engine, parent["comment_id"])[0] == "replied"
    listed = cli("mentions", "actions", "--status", "done").output.splitlines()
    assert listed[0].split() == ["id", "action", "mention", "status", "attempts", "by", "result",
                                 "error"]  # fmt: skip
    assert listed[1].split() == [str(row.id), "reply", parent["comment_id"], "done", "1", "ana",
                                 replies[0]]  # fmt: skip
    assert cli("mentions", "actions", "--status", "failed").output.strip() == (
        "no actions with status failed"
    )

    # a second run (a retry, a re-execution) finds nothing to do
    _run_job(instance, resource)
    assert len(_texts_on_video(sandbox_app, parent["video_id"], TEXT)) == 1

    today = sandbox_app.clock().date()
    assert materialize(instance, resource, "brand", today.isoformat(), ALL).success
    landed = {r["comment_id"]: r for r in read_partition(engine, COMMENTS, "brand", today)}
    assert landed[replies[0]]["parent_comment_id"] == parent["comment_id"]
    assert landed[replies[0]]["text"] == TEXT
    with engine.connect() as conn:
        mention = conn.execute(
            sa.text(
                "SELECT post_type, parent_external_id, status FROM sl_mentions "
                "WHERE external_id = :id"
            ),
            {"id": replies[0]},
        ).one()
    assert tuple(mention) == ("reply", parent["comment_id"], "new")
    # re-materializing the parent's day keeps the workflow status the action set
    assert materialize(instance, resource, "brand", day.isoformat(), ALL).success
    assert _status(engine, parent["comment_id"])[0] == "replied"


def test_a_reply_left_in_flight_by_a_killed_run_is_found_not_sent_again(
    brand: tuple[date, dict[str, Any]],
    cli: Callable[..., Any],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    sandbox_app: SandboxApp,
    engine: sa.Engine,
) -> None:
    _, parent = brand
    cli("mentions", "reply", parent["comment_id"], "--text", TEXT)
    # the killed run had recorded its intent and its POST reached TikTok
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE sl_mention_actions SET status = 'in_flight', attempts = 1, "
                "started_at = now()"
            )
        )
    world, now = sandbox_app.world, _now(sandbox_app)
    video = world.find_video(OPEN_ID, parent["video_id"], now)
    assert video is not None
    top = next(
        c for c in world.visible_comments(video, now) if c.comment_id == parent["comment_id"]
    )
    made = world.create_comment(video, TEXT, now, top)

    _run_job(instance, resource)

    assert _texts_on_video(sandbox_app, parent["video_id"], TEXT) == [made.comment_id]
    [row] = MentionActionQueue(engine).list()
    assert (row.status, row.result_comment_id, row.attempts) == ("done", made.comment_id, 1)


def test_a_reply_left_in_flight_that_never_reached_tiktok_is_sent_once(
    brand: tuple[date, dict[str, Any]],
    cli: Callable[..., Any],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    sandbox_app: SandboxApp,
    engine: sa.Engine,
) -> None:
    _, parent = brand
    cli("mentions", "reply", parent["comment_id"], "--text", TEXT)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE sl_mention_actions SET status = 'in_flight', attempts = 1, "
                "started_at = now()"
            )
        )

    _run_job(instance, resource)

    replies = _texts_on_video(sandbox_app, parent["video_id"], TEXT)
    assert len(replies) == 1
    [row] = MentionActionQueue(engine).list()
    assert (row.status, row.result_comment_id, row.attempts) == ("done", replies[0], 2)


def test_delete_now_removes_the_comment_and_the_mention_stays_deleted(
    brand: tuple[date, dict[str, Any]],
    cli: Callable[..., Any],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    sandbox_app: SandboxApp,
    engine: sa.Engine,
) -> None:
    day, comment = brand
    out = cli("mentions", "delete", comment["comment_id"], "--by", "mod", "--now").output
    assert f"delete on {comment['comment_id']}): done" in out

    assert sandbox_app.world.find_comment(OPEN_ID, comment["comment_id"], _now(sandbox_app)) is None
    assert _status(engine, comment["comment_id"]) == ("deleted", None)
    assert materialize(instance, resource, "brand", day.isoformat(), ALL).success
    status, deleted_at = _status(engine, comment["comment_id"])
    assert status == "deleted" and deleted_at is not None


def test_hide_now_hides_the_comment_from_public_listings(
    brand: tuple[date, dict[str, Any]],
    cli: Callable[..., Any],
    sandbox_app: SandboxApp,
    engine: sa.Engine,
) -> None:
    _, comment = brand
    out = cli("mentions", "hide", comment["comment_id"], "--by", "mod", "--now").output
    assert f"hide on {comment['comment_id']}): done" in out

    assert sandbox_app.world.is_hidden(comment["comment_id"])
    assert _status(engine, comment["comment_id"]) == ("hidden", None)


def test_the_cli_refuses_what_tiktok_would_refuse_in_one_line(
    brand: tuple[date, dict[str, Any]],
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    sandbox_app: SandboxApp,
    project_env: dict[str, str],
    engine: sa.Engine,
) -> None:
    _, comment = brand
    add_account("creator", "display", "creator-open-id")
    today = sandbox_app.clock().date()
    display_video = None
    for back in range(6):
        day = today - timedelta(days=back)
        videos = sandbox_app.world.videos("creator-open-id", day)
        if videos:
            assert materialize(instance, resource, "creator", day.isoformat(), ALL).success
            display_video = videos[0]["id"]
            break
    assert display_video is not None
    video = _video_mention(instance, resource, sandbox_app, comment["video_id"])
    runner = CliRunner()
    cases = {
        ("reply", display_video, "--text", TEXT): "Display tokens cannot write comments",
        ("reply", comment["comment_id"], "--text", "x" * 151): "151 characters; at most 150",
        ("hide", video): "only comments and replies can be hidden",
        ("delete", "7999999999999999999"): "no mention '7999999999999999999'",
    }
    for args, message in cases.items():
        result = runner.invoke(main, ["mentions", *args], env=project_env)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert MentionActionQueue(engine).list() == []


def test_malformed_rows_written_downstream_fail_with_a_reason_and_the_job_goes_on(
    brand: tuple[date, dict[str, Any]],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
    sandbox_app: SandboxApp,
    engine: sa.Engine,
) -> None:
    _, comment = brand
    video = _video_mention(instance, resource, sandbox_app, comment["video_id"])
    rows = [
        ("7999999999999999999", "reply", TEXT),  # no such mention
        (comment["comment_id"], "reply", None),  # no text
        (comment["comment_id"], "reply", "y" * 200),  # too long
        (video, "delete", None),  # a video cannot be deleted here
        (comment["comment_id"], "reply", TEXT),  # fine: the minimum columns
    ]
    with engine.begin() as conn:
        for external_id, action, text in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO sl_mention_actions (external_id, action, text) "
                    "VALUES (:id, :action, :text)"
                ),
                {"id": external_id, "action": action, "text": text},
            )
    with (
        pytest.raises(sa.exc.IntegrityError, match="sl_mention_actions_action_check"),
        engine.begin() as conn,
    ):
        conn.execute(
            sa.text("INSERT INTO sl_mention_actions (external_id, action) VALUES ('1', 'like')")
        )

    result = _run_job(instance, resource)

    [observed] = result.asset_observations_for_node("tiktok_run_mention_actions")
    assert observed.asset_key == dg.AssetKey("sl_mention_actions")
    assert {k: v.value for k, v in observed.metadata.items()} == {"rows_done": 1, "rows_failed": 4}
    by_id = {row.id: row for row in MentionActionQueue(engine).list()}
    outcome = [(by_id[i].status, by_id[i].error or "") for i in sorted(by_id)]
    assert [status for status, _ in outcome] == ["failed"] * 4 + ["done"]
    assert "no mention" in outcome[0][1]
    assert "needs text" in outcome[1][1]
    assert "200 characters; at most 150" in outcome[2][1]
    assert "only comments and replies can be deleted" in outcome[3][1]
    done = by_id[max(by_id)]
    assert (done.tenant_id, done.account_key) == (1, "brand")  # resolved at pick-up
    assert done.parent_comment_id == comment["comment_id"]
    assert len(_texts_on_video(sandbox_app, comment["video_id"], TEXT)) == 1


def test_the_sensor_launches_a_run_only_when_rows_are_open(
    brand: tuple[date, dict[str, Any]],
    cli: Callable[..., Any],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    _, comment = brand
    with dg.build_sensor_context(instance=instance, resources={"tiktok": resource}) as context:
        assert isinstance(tiktok_mention_actions_sensor(context), dg.SkipReason)
    cli("mentions", "reply", comment["comment_id"], "--text", TEXT)
    with dg.build_sensor_context(instance=instance, resources={"tiktok": resource}) as context:
        request = tiktok_mention_actions_sensor(context)
    assert isinstance(request, dg.RunRequest)
    assert request.tags["tiktok_etl/open_actions"] == "1"
