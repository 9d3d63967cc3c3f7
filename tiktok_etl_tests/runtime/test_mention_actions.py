"""Queued mention actions happen exactly once: TikTok mocked with respx, a real PostgreSQL.

The served-sandbox and Dagster versions of these are in ``defs/test_mention_actions.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import sqlalchemy as sa

from tiktok_etl.auth.model import TokenSet
from tiktok_etl.runtime import Runtime, open_runtime
from tiktok_etl.runtime.mention_actions import request_action, run_mention_actions
from tiktok_etl.settings import Settings
from tiktok_etl.storage.accounts import Account
from tiktok_etl.storage.mention_actions import ActionRefused, MentionActionQueue

BASE = "https://business.test/open_api/v1.3"
REPLY_CREATE = f"{BASE}/business/comment/reply/create/"
REPLY_LIST = f"{BASE}/business/comment/reply/list/"
COMMENT_LIST = f"{BASE}/business/comment/list/"
DELETE = f"{BASE}/business/comment/delete/"
HIDE = f"{BASE}/business/comment/hide/"
TOKEN_KEY = "8mOMrHHSgE0cSO8yGCOEYeOgGJcxAr52i9m6G1sIuwk="
OPEN_ID = "brand-open-id"
VIDEO, COMMENT = "7300000000000000001", "7300000000000000100"
TEXT = "Thanks for watching!"


@pytest.fixture
def runtime(engine: sa.Engine, tmp_path: Path) -> Runtime:
    env = {
        "TIKTOK_ETL_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "TIKTOK_ETL_TOKEN_KEY": TOKEN_KEY,
        "TIKTOK_ETL_HOME": str(tmp_path / "home"),
        "TIKTOK_BUSINESS_API_BASE_URL": BASE,
        "TIKTOK_BUSINESS_APP_ID": "app-id",
        "TIKTOK_BUSINESS_APP_SECRET": "app-secret",
    }
    runtime = open_runtime(Settings.from_env(env))
    for key, api, open_id in (("brand", "business", OPEN_ID), ("creator", "display", "c-id")):
        runtime.accounts.add(Account(account_key=key, api=api, open_id=open_id))  # type: ignore[arg-type]
        payload = {"access_token": f"act.{key}", "refresh_token": f"rft.{key}",
                   "expires_in": 86400, "open_id": open_id, "scope": ""}  # fmt: skip
        runtime.tokens.save(key, TokenSet.from_response(payload, datetime.now(UTC)))
    with engine.begin() as conn:
        _mention(conn, "brand", COMMENT, "comment", VIDEO)
        _mention(conn, "creator", "display-video-1", "video", None)
        _mention(conn, "brand", VIDEO, "video", None)
        conn.execute(
            sa.text(
                "INSERT INTO tiktok_comments (account_key, date, comment_id, video_id, "
                "create_time, text, fetched_at, raw) VALUES ('brand', :day, :id, :video, "
                "now(), 'love it', now(), '{}')"
            ),
            {"day": date.today(), "id": COMMENT, "video": VIDEO},
        )
    return runtime


def _mention(conn: sa.Connection, account: str, external_id: str, kind: str, parent: Any) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO sl_mentions (tenant_id, platform, external_id, content, media_type, "
            "published_at, post_type, raw_data, parent_external_id, account_key, source_key, date) "
            "VALUES (1, 'tiktok', :id, 'x', 'text', now() - interval '1 hour', :kind, '{}', "
            ":parent, :account, :account, :day)"
        ),
        {"id": external_id, "kind": kind, "parent": parent, "account": account,
         "day": date.today()},
    )  # fmt: skip


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def _ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"code": 0, "message": "OK", "request_id": "r", "data": data})


def _listing(*comments: dict[str, Any]) -> httpx.Response:
    return _ok({"comments": list(comments), "cursor": len(comments), "has_more": False})


def _reply(comment_id: str, text: str = TEXT, owner: bool = True) -> dict[str, Any]:
    return {"comment_id": comment_id, "video_id": VIDEO, "parent_comment_id": COMMENT,
            "create_time": str(int(datetime.now(UTC).timestamp())), "text": text,
            "owner": owner, "likes": 0, "replies": 0}  # fmt: skip


def _mention_status(runtime: Runtime, external_id: str) -> str:
    with runtime.engine.connect() as conn:
        return str(
            conn.execute(
                sa.text("SELECT status FROM sl_mentions WHERE external_id = :id"),
                {"id": external_id},
            ).scalar_one()
        )


def test_a_reply_is_sent_once_and_recorded_with_its_id(
    runtime: Runtime, api: respx.MockRouter
) -> None:
    post = api.post(REPLY_CREATE).mock(return_value=_ok({"comment_id": "7300000000000000999"}))
    queued = request_action(runtime, COMMENT, "reply", text=TEXT, requested_by="ana")
    assert queued.video_id == VIDEO and queued.account_key == "brand"

    run_mention_actions(runtime)

    row = MentionActionQueue(runtime.engine).get(queued.id)
    assert (row.status, row.result_comment_id, row.attempts) == ("done", "7300000000000000999", 1)
    assert post.call_count == 1
    body = json.loads(post.calls[0].request.content)
    assert body == {"business_id": OPEN_ID, "video_id": VIDEO, "comment_id": COMMENT, "text": TEXT}
    assert _mention_status(runtime, COMMENT) == "replied"


def test_an_answer_lost_after_the_write_is_found_by_the_check_and_not_resent(
    runtime: Runtime, api: respx.MockRouter
) -> None:
    post = api.post(REPLY_CREATE).mock(side_effect=httpx.ReadTimeout("lost"))
    api.get(REPLY_LIST).mock(
        return_value=_listing(_reply("7300000000000000500", "another text"),
                              _reply("7300000000000000501"))
    )  # fmt: skip
    queued = request_action(runtime, COMMENT, "reply", text=TEXT)

    run_mention_actions(runtime)

    row = MentionActionQueue(runtime.engine).get(queued.id)
    assert (row.status, row.result_comment_id) == ("done", "7300000000000000501")
    assert post.call_count == 1


def test_a_write_the_check_does_not_find_is_sent_again(
    runtime: Runtime, api: respx.MockRouter
) -> None:
    post = api.post(REPLY_CREATE).mock(
        side_effect=[
            httpx.RemoteProtocolError("dropped"),
            _ok({"comment_id": "7300000000000000777"}),
        ]
    )
    listing = api.get(REPLY_LIST).mock(
        return_value=_listing(_reply("7300000000000000500", "other"))
    )
    queued = request_action(runtime, COMMENT, "reply", text=TEXT)

    run_mention_actions(runtime)

    row = MentionActionQueue(runtime.engine).get(queued.id)
    assert (row.status, row.result_comment_id, row.attempts) == ("done", "7300000000000000777", 2)
    assert post.call_count == 2
    assert listing.call_count == 1  # checked before the second send


def test_a_row_left_in_flight_by_a_killed_worker_is_checked_before_anything_is_sent(
    runtime: Runtime, api: respx.MockRouter
) -> None:
    post = api.post(REPLY_CREATE).mock(return_value=_ok({"comment_id": "never"}))
    api.get(REPLY_LIST).mock(return_value=_listing(_reply("7300000000000000601")))
    queued = request_action(runtime, COMMENT, "reply", text=TEXT)
    with runtime.engine.begin() as conn:  # what a worker killed during its POST leaves behind
        conn.execute(
            sa.text(
                "UPDATE sl_mention_actions SET status = 'in_flight', attempts = 1, "
                "started_at = now() WHERE id = :id"
            ),
            {"id": queued.id},
        )

    run_mention_actions(runtime)

    row = MentionActionQueue(runtime.engine).get(queued.id)
    assert (row.status, row.result_comment_id, row.attempts) == ("done", "7300000000000000601", 1)
    assert post.call_count == 0


def test_a_comment_another_action_owns_is_not_taken_as_this_one(
    runtime: Runtime, api: respx.MockRouter
) -> None:
    api.post(REPLY_CREATE).mock(
        side_effect=[_ok({"comment_id": "7300000000000000701"}), httpx.ReadTimeout("lost"),
                     _ok({"comment_id": "7300000000000000702"})]
    )  # fmt: skip
    # the same text twice: the second's check sees only the first's reply, which it must skip
    api.get(REPLY_LIST).mock(return_value=_listing(_reply("7300000000000000701")))
    first = request_action(runtime, COMMENT, "reply", text=TEXT)
    with pytest.raises(ActionRefused, match=f"action {first.id} already asks for this reply"):
        request_action(runtime, COMMENT, "reply", text=TEXT)
    run_mention_actions(runtime)
    second = request_action(runtime, COMMENT, "reply", text=TEXT)  # asked again once done

    run_mention_actions(runtime)

    queue = MentionActionQueue(runtime.engine)
    assert queue.get(first.id).result_comment_id == "7300000000000000701"
    assert queue.get(second.id).result_comment_id == "7300000000000000702"


def test_a_definite_refusal_fails_the_row_with_tiktoks_reason(
    runtime: Runtime, api: respx.MockRouter
) -> None:
    post = api.post(REPLY_CREATE).mock(
        return_value=httpx.Response(
            200, json={"code": 40002, "message": "comment is closed", "request_id": "r"}
        )
    )
    api.get(REPLY_LIST).mock(return_value=_listing())
    queued = request_action(runtime, COMMENT, "reply", text=TEXT)

    run_mention_actions(runtime)

    row = MentionActionQueue(runtime.engine).get(queued.id)
    assert row.status == "failed"
    assert "40002" in (row.error or "") and "comment is closed" in (row.error or "")
    assert post.call_count == 1
    assert _mention_status(runtime, COMMENT) == "new"


def test_a_delete_whose_answer_was_lost_is_done_when_the_comment_is_gone(
    runtime: Runtime, api: respx.MockRouter
) -> None:
    post = api.post(DELETE).mock(side_effect=httpx.ReadTimeout("lost"))
    api.get(COMMENT_LIST).mock(return_value=_listing())
    queued = request_action(runtime, COMMENT, "delete")

    run_mention_actions(runtime)

    assert MentionActionQueue(runtime.engine).get(queued.id).status == "done"
    assert post.call_count == 1
    assert _mention_status(runtime, COMMENT) == "deleted"


def test_a_video_mention_gets_a_top_level_comment(runtime: Runtime, api: respx.MockRouter) -> None:
    post = api.post(f"{BASE}/business/comment/create/").mock(
        return_value=_ok({"comment_id": "7300000000000000800"})
    )
    queued = request_action(runtime, VIDEO, "reply", text=TEXT)

    run_mention_actions(runtime)

    assert MentionActionQueue(runtime.engine).get(queued.id).status == "done"
    assert json.loads(post.calls[0].request.content) == {
        "business_id": OPEN_ID, "video_id": VIDEO, "text": TEXT,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("external_id", "action", "text", "message"),
    [
        ("display-video-1", "reply", TEXT, "Display tokens cannot write comments"),
        (COMMENT, "reply", "x" * 151, "151 characters; at most 150"),
        (COMMENT, "reply", "   ", "must not be empty"),
        (VIDEO, "hide", None, "only comments and replies can be hidden"),
        (VIDEO, "delete", None, "only comments and replies can be deleted"),
        ("no-such-mention", "reply", TEXT, "no mention 'no-such-mention'"),
    ],
)
def test_requests_tiktok_would_refuse_are_not_queued(
    runtime: Runtime, external_id: str, action: Any, text: str | None, message: str
) -> None:
    with pytest.raises(Exception, match=message) as caught:
        request_action(runtime, external_id, action, text=text)
    assert isinstance(caught.value, ActionRefused) or "no mention" in message
    assert MentionActionQueue(runtime.engine).list() == []


def test_a_downstream_row_for_a_display_account_fails_with_the_reason(
    runtime: Runtime, api: respx.MockRouter
) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO sl_mention_actions (external_id, action, text) "
                "VALUES ('display-video-1', 'comment', 'hello')"
            )
        )

    run_mention_actions(runtime)

    [row] = MentionActionQueue(runtime.engine).list()
    assert row.status == "failed" and row.attempts == 0
    assert "Display tokens cannot write comments" in (row.error or "")
    assert row.finished_at is not None
    assert not api.calls


def test_a_row_that_may_have_happened_is_kept_to_check_when_its_account_is_disabled(
    runtime: Runtime, api: respx.MockRouter
) -> None:
    queued = request_action(runtime, COMMENT, "reply", text=TEXT)
    with runtime.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE sl_mention_actions SET status = 'in_flight', attempts = 1, "
                "started_at = now() WHERE id = :id"
            ),
            {"id": queued.id},
        )
    runtime.accounts.set_status("brand", "disabled")

    run_mention_actions(runtime)

    row = MentionActionQueue(runtime.engine).get(queued.id)
    assert row.status == "needs_check"
    assert "is disabled" in (row.error or "") and "may have happened" in (row.error or "")
    assert not api.calls


def test_hide_is_retried_like_a_read_after_lost_answers_and_marks_the_mention_hidden(
    runtime: Runtime, api: respx.MockRouter
) -> None:
    # hiding sets a state: a second HIDE after a lost answer cannot hide anything twice
    post = api.post(HIDE).mock(side_effect=[httpx.ReadTimeout("lost")] * 3 + [_ok({})])
    queued = request_action(runtime, COMMENT, "hide", requested_by="mod")

    run_mention_actions(runtime)

    row = MentionActionQueue(runtime.engine).get(queued.id)
    assert (row.status, row.attempts) == ("done", 1)
    assert post.call_count == 4  # the transport's own retries: safe for a state
    assert json.loads(post.calls[-1].request.content) == {
        "business_id": OPEN_ID, "video_id": VIDEO, "comment_id": COMMENT, "action": "HIDE",
    }  # fmt: skip
    assert _mention_status(runtime, COMMENT) == "hidden"
