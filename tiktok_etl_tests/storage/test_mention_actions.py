"""``sl_mention_actions``: what a downstream INSERT gets, and how workers claim rows."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tiktok_etl.storage.mention_actions import MentionActionQueue, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def _insert(engine: sa.Engine, external_id: str, action: str = "reply") -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.text(
                    "INSERT INTO sl_mention_actions (external_id, action, text) "
                    "VALUES (:id, :action, 'hi') RETURNING id"
                ),
                {"id": external_id, "action": action},
            ).scalar_one()
        )


def test_a_downstream_insert_of_the_minimum_columns_gets_the_defaults(engine: sa.Engine) -> None:
    action_id = _insert(engine, "7300000000000000100")
    row = MentionActionQueue(engine).get(action_id)
    assert (row.status, row.attempts, row.tenant_id, row.started_at) == ("requested", 0, None, None)
    assert row.requested_at is not None and row.updated_at is not None


@pytest.mark.parametrize(
    ("column", "value"), [("action", "like"), ("status", "sent")], ids=["action", "status"]
)
def test_checks_refuse_unknown_actions_and_statuses(
    engine: sa.Engine, column: str, value: str
) -> None:
    values = {"external_id": "1", "action": "reply", "status": "requested", column: value}
    with (
        pytest.raises(sa.exc.IntegrityError, match=f"sl_mention_actions_{column}_check"),
        engine.begin() as conn,
    ):
        conn.execute(
            sa.text(
                "INSERT INTO sl_mention_actions (external_id, action, status) "
                "VALUES (:external_id, :action, :status)"
            ),
            values,
        )


def test_a_row_one_worker_holds_is_not_claimed_by_another(engine: sa.Engine) -> None:
    first, second = _insert(engine, "a"), _insert(engine, "b")
    queue = MentionActionQueue(engine)
    with queue.worker() as one, queue.worker() as two:
        claimed = one.claim()
        assert claimed is not None and claimed.id == first
        one.record_intent(first)
        other = two.claim()
        assert other is not None and other.id == second
        assert two.claim(skip={second}) is None


def test_an_in_flight_row_is_claimable_again_once_its_worker_is_gone(engine: sa.Engine) -> None:
    action_id = _insert(engine, "a")
    queue = MentionActionQueue(engine)
    with queue.worker() as doomed:
        assert doomed.claim() is not None
        doomed.record_intent(action_id)
        with queue.worker() as other:
            assert other.claim() is None  # its worker may still be waiting for TikTok
    # the worker's session ended (as when its process is killed): its locks went with it
    with queue.worker() as survivor:
        claimed = survivor.claim()
    assert claimed is not None
    assert (claimed.id, claimed.status, claimed.attempts) == (action_id, "in_flight", 1)
    assert claimed.started_at is not None


def test_the_readme_column_table_is_generated_from_the_spec() -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- sl_mention_actions columns -->\n", 1)[1]
    block = block.split("<!-- /sl_mention_actions columns -->", 1)[0]
    assert block == markdown_table(), "paste storage.mention_actions.markdown_table() into README"


def test_rows_left_in_flight_are_due_again_only_after_a_pause(engine: sa.Engine) -> None:
    queue = MentionActionQueue(engine)
    requested, in_flight = _insert(engine, "a"), _insert(engine, "b")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE sl_mention_actions SET status = 'in_flight' WHERE id = :id"),
            {"id": in_flight},
        )
    assert queue.due_count() == 1  # the requested row; the other's worker may be at work
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE sl_mention_actions SET updated_at = now() - interval '6 minutes' "
                "WHERE id = :id"
            ),
            {"id": in_flight},
        )
    assert queue.due_count() == 2
    assert requested != in_flight
