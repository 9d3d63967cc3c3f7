"""``sl_mention_actions``: the queue of replies, comments and deletes requested on mentions.

The queue is a plain table so downstream tools (a triage UI, a script) can ``INSERT`` into it
directly; the CLI uses :meth:`MentionActionQueue.request`. The job's side is
:class:`ActionWorker`: it claims one open row at a time and records each step in its own
committed transaction, so a crash at any point leaves a row that says what may have
happened (``in_flight``: the call to TikTok may or may not have been made).

Claiming is two locks. ``FOR UPDATE SKIP LOCKED`` keeps two claimers off the same row
while they choose; a session-level advisory lock per row, held on the worker's own
connection for as long as it works the row, keeps a second worker from "recovering" an
``in_flight`` row whose first worker is still waiting for TikTok. A killed worker's
connection closes and the server drops its advisory locks, so its rows become claimable
again and go through the check (never a blind retry). No SQL here decides what to send to
TikTok; that is :mod:`tiktok_etl.runtime.mention_actions`.

The table is created by migration ``0012_mention_actions``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

import sqlalchemy as sa

from tiktok_etl.api.business import check_comment_text
from tiktok_etl.storage.accounts import Account
from tiktok_etl.storage.errors import StorageError
from tiktok_etl.storage.mentions_table import PLATFORM
from tiktok_etl.storage.mentions_table import TABLE_NAME as MENTIONS_TABLE
from tiktok_etl.storage.tables import TableSpec, col

TABLE_NAME = "sl_mention_actions"

ActionKind = Literal["reply", "comment", "hide", "delete"]
ActionStatus = Literal["requested", "in_flight", "done", "failed", "needs_check"]
ACTION_KINDS: tuple[str, ...] = get_args(ActionKind)
ACTION_STATUSES: tuple[str, ...] = get_args(ActionStatus)
# rows the job works: new requests, and rows whose last call may or may not have happened
OPEN_STATUSES: tuple[str, ...] = ("requested", "in_flight", "needs_check")

_LOCK_PREFIX = "tiktok_etl:mention_action:"
# how long an in-flight or to-check row waits before the sensor asks for another look
RECHECK_AFTER = timedelta(minutes=5)

MENTION_ACTIONS = TableSpec(
    name=TABLE_NAME,
    columns=(
        col("id", "bigint", "the action's id (generated)", nullable=False, owner="key"),
        col("tenant_id", "bigint",
            "tenant of the mention; may be left null when the external_id is unique"),
        col("external_id", "text", "the mention acted on (`sl_mentions.external_id`)",
            nullable=False),
        col("action", "text",
            "`reply`, `comment` (a top-level comment on the mention's video), `hide` or "
            "`delete`",
            nullable=False),
        col("text", "text", "the reply or comment text (1 to 150 characters)"),
        col("requested_by", "text", "who asked (free text)"),
        col("requested_at", "timestamptz", "when it was asked (default now())", nullable=False),
        col("status", "text",
            "`requested`, then `in_flight`, then `done`, `failed` or `needs_check` (default "
            "`requested`)", nullable=False),
        col("account_key", "text", "the account that acts (resolved from the mention)"),
        col("video_id", "text", "the video the mention belongs to (resolved)"),
        col("parent_comment_id", "text",
            "the top-level comment a reply goes under (resolved)"),
        col("attempts", "integer", "calls to TikTok recorded as intents (default 0)",
            nullable=False),
        col("started_at", "timestamptz", "first recorded intent (before the first call)"),
        col("finished_at", "timestamptz", "when the row reached `done` or `failed`"),
        col("result_comment_id", "text", "TikTok's id of the new comment or reply"),
        col("error", "text", "why the row failed or needs a check"),
        col("updated_at", "timestamptz", "last change by the job (default now())",
            nullable=False),
    ),
    key=("id",),
    partition_columns=(),
)  # fmt: skip

_COLUMNS = ", ".join(MENTION_ACTIONS.column_names)


class MentionNotFound(StorageError, LookupError):
    def __init__(self, external_id: str) -> None:
        self.external_id = external_id
        super().__init__(
            f"no mention {external_id!r} in sl_mentions; materialize its partition first "
            "(the id is sl_mentions.external_id)"
        )


class AmbiguousMention(StorageError):
    def __init__(self, external_id: str, tenants: list[int]) -> None:
        super().__init__(
            f"mention {external_id!r} exists for tenants {', '.join(map(str, tenants))}; "
            "name the tenant (--tenant-id)"
        )


class ActionRefused(StorageError, ValueError):
    """The queue will not take (or carry out) this action; the message says why and what to do."""


@dataclass(frozen=True)
class MentionTarget:
    """A mention as the job needs it: which account acts, on which video and comment."""

    tenant_id: int
    external_id: str
    account_key: str
    post_type: str  # video | comment | reply
    video_id: str | None
    parent_comment_id: str | None  # a reply's top-level comment; None otherwise
    published_at: datetime | None = None

    def reply_parent(self, action: str) -> str | None:
        """The top-level comment a reply goes under (TikTok nests replies one level deep):
        the mention itself for a comment, its parent for a reply; None for anything else."""
        if action != "reply" or self.post_type == "video":
            return None
        return self.parent_comment_id if self.post_type == "reply" else self.external_id


@dataclass(frozen=True)
class QueuedAction:
    id: int
    tenant_id: int | None
    external_id: str
    action: str
    text: str | None
    requested_by: str | None
    requested_at: datetime
    status: str
    account_key: str | None
    video_id: str | None
    parent_comment_id: str | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    result_comment_id: str | None
    error: str | None
    updated_at: datetime


def _action(row: sa.Row[Any]) -> QueuedAction:
    return QueuedAction(**row._asdict())


def find_mention(
    bind: sa.Engine | sa.Connection, external_id: str, tenant_id: int | None = None
) -> MentionTarget:
    """The mention ``external_id`` (of ``tenant_id`` when given), with its video and parent."""
    query = sa.text(
        f"SELECT m.tenant_id, m.external_id, m.account_key, m.post_type, m.published_at, "
        f"m.parent_external_id, c.video_id, c.parent_comment_id "
        f"FROM {MENTIONS_TABLE} m LEFT JOIN tiktok_comments c "
        f"ON c.account_key = m.account_key AND c.date = m.date AND c.comment_id = m.external_id "
        f"WHERE m.platform = :platform AND m.external_id = :external_id "
        f"AND (CAST(:tenant_id AS bigint) IS NULL OR m.tenant_id = :tenant_id) "
        f"ORDER BY m.tenant_id"
    )
    params = {"platform": PLATFORM, "external_id": external_id, "tenant_id": tenant_id}
    if isinstance(bind, sa.Engine):
        with bind.connect() as conn:
            rows = conn.execute(query, params).all()
    else:
        rows = bind.execute(query, params).all()
    if not rows:
        raise MentionNotFound(external_id)
    if len(rows) > 1:
        raise AmbiguousMention(external_id, [row.tenant_id for row in rows])
    row = rows[0]
    if row.post_type == "video":
        video_id: str | None = row.external_id
        parent = None
    else:
        # a comment's parent_external_id is its video; a reply's is its parent comment
        video_id = row.video_id
        parent = row.parent_comment_id or (
            row.parent_external_id if row.post_type == "reply" else None
        )
    return MentionTarget(
        tenant_id=row.tenant_id,
        external_id=row.external_id,
        account_key=row.account_key,
        post_type=row.post_type,
        video_id=video_id,
        parent_comment_id=parent,
        published_at=row.published_at,
    )


class MentionActionQueue:
    """Requests and listings over ``sl_mention_actions``; each method is its own transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def request(
        self,
        target: MentionTarget,
        action: ActionKind,
        text: str | None,
        requested_by: str | None,
    ) -> QueuedAction:
        """Queue one action on a resolved mention (checks are the caller's: see runtime)."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    f"INSERT INTO {TABLE_NAME} (tenant_id, external_id, action, text, "
                    "requested_by, account_key, video_id, parent_comment_id) VALUES "
                    "(:tenant_id, :external_id, :action, :text, :requested_by, :account_key, "
                    f":video_id, :parent_comment_id) RETURNING {_COLUMNS}"
                ),
                {
                    "tenant_id": target.tenant_id,
                    "external_id": target.external_id,
                    "action": action,
                    "text": text,
                    "requested_by": requested_by,
                    "account_key": target.account_key,
                    "video_id": target.video_id,
                    "parent_comment_id": target.reply_parent(action),
                },
            ).one()
        return _action(row)

    def get(self, action_id: int) -> QueuedAction:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text(f"SELECT {_COLUMNS} FROM {TABLE_NAME} WHERE id = :id"), {"id": action_id}
            ).one()
        return _action(row)

    def list(self, status: str | None = None, limit: int = 100) -> builtins.list[QueuedAction]:
        """The newest ``limit`` actions, optionally of one status, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS} FROM {TABLE_NAME} "
                    "WHERE CAST(:status AS text) IS NULL OR status = :status "
                    "ORDER BY id DESC LIMIT :limit) newest ORDER BY id"
                ),
                {"status": status, "limit": limit},
            ).all()
        return [_action(row) for row in rows]

    def open_duplicate(self, target: MentionTarget, action: str, text: str | None) -> int | None:
        """The id of an open row asking for the same thing on the same mention, if any."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.text(
                    f"SELECT id FROM {TABLE_NAME} WHERE external_id = :external_id "
                    "AND (tenant_id IS NULL OR tenant_id = :tenant_id) AND action = :action "
                    "AND text IS NOT DISTINCT FROM :text "
                    "AND status IN ('requested', 'in_flight', 'needs_check') ORDER BY id LIMIT 1"
                ),
                {"external_id": target.external_id, "tenant_id": target.tenant_id,
                 "action": action, "text": text},
            ).scalar()  # fmt: skip
        return None if found is None else int(found)

    def due_count(self, recheck_after: timedelta = RECHECK_AFTER) -> int:
        """Rows worth a run now: every ``requested`` row, and ``in_flight`` / ``needs_check``
        rows untouched for ``recheck_after`` (a row whose check keeps failing is looked at
        again at that pace, not on every sensor tick)."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        f"SELECT count(*) FROM {TABLE_NAME} WHERE status = 'requested' OR "
                        "(status IN ('in_flight', 'needs_check') "
                        "AND updated_at < now() - make_interval(secs => :seconds))"
                    ),
                    {"seconds": recheck_after.total_seconds()},
                ).scalar_one()
            )

    @contextmanager
    def worker(self) -> Iterator[ActionWorker]:
        """A worker holding its own connection for the advisory locks of the rows it claims."""
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            yield ActionWorker(self.engine, conn)
        finally:
            try:
                conn.execute(sa.text("SELECT pg_advisory_unlock_all()"))
            except sa.exc.DBAPIError:
                conn.invalidate()  # closing the session releases its locks
            finally:
                conn.close()


class ActionWorker:
    """Claims open rows one at a time and records each step, committed, as it happens."""

    def __init__(self, engine: sa.Engine, lock_conn: sa.Connection) -> None:
        self.engine = engine
        self._locks = lock_conn

    def claim(self, *, skip: set[int] | None = None) -> QueuedAction | None:
        """The oldest open row no other worker holds, locked for this worker; None if none."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT {_COLUMNS} FROM {TABLE_NAME} WHERE status IN "
                    "('requested', 'in_flight', 'needs_check') AND NOT (id = ANY(:skip)) "
                    "ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 50"
                ),
                {"skip": sorted(skip or ())},
            ).all()
            for row in rows:
                locked: Any = self._locks.execute(
                    sa.text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))"),
                    {"name": f"{_LOCK_PREFIX}{row.id}"},
                ).scalar_one()
                if locked:
                    return _action(row)
        return None

    def release(self, action_id: int) -> None:
        self._locks.execute(
            sa.text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))"),
            {"name": f"{_LOCK_PREFIX}{action_id}"},
        )

    def _update(self, action_id: int, assignments: str, params: dict[str, Any]) -> QueuedAction:
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    f"UPDATE {TABLE_NAME} SET {assignments}, updated_at = now() "
                    f"WHERE id = :id RETURNING {_COLUMNS}"
                ),
                {**params, "id": action_id},
            ).one()
        return _action(row)

    def resolve(self, action_id: int, action: str, target: MentionTarget) -> QueuedAction:
        """Fill in what a downstream-written row left out (tenant, account, video, parent)."""
        return self._update(
            action_id,
            "tenant_id = :tenant_id, account_key = :account_key, video_id = :video_id, "
            "parent_comment_id = :parent_comment_id",
            {
                "tenant_id": target.tenant_id,
                "account_key": target.account_key,
                "video_id": target.video_id,
                "parent_comment_id": target.reply_parent(action),
            },
        )

    def record_intent(self, action_id: int) -> QueuedAction:
        """``in_flight``, one more attempt, committed before TikTok is called.

        ``started_at`` keeps the first intent: a check looks for the comment from then on.
        """
        return self._update(
            action_id,
            "status = 'in_flight', attempts = attempts + 1, "
            "started_at = COALESCE(started_at, now()), error = NULL",
            {},
        )

    def record_done(
        self, action_id: int, comment_id: str | None, mention_status: str
    ) -> QueuedAction:
        """``done`` with TikTok's id, and the mention's workflow status, in one transaction."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    f"UPDATE {TABLE_NAME} SET status = 'done', result_comment_id = :comment_id, "
                    "error = NULL, finished_at = now(), updated_at = now() "
                    f"WHERE id = :id RETURNING {_COLUMNS}"
                ),
                {"id": action_id, "comment_id": comment_id},
            ).one()
            conn.execute(
                sa.text(
                    f"UPDATE {MENTIONS_TABLE} SET status = :status WHERE tenant_id = :tenant_id "
                    "AND platform = :platform AND external_id = :external_id"
                ),
                {
                    "status": mention_status,
                    "tenant_id": row.tenant_id,
                    "platform": PLATFORM,
                    "external_id": row.external_id,
                },
            )
        return _action(row)

    def record_failed(self, action_id: int, reason: str) -> QueuedAction:
        return self._update(
            action_id,
            "status = 'failed', error = :error, finished_at = now()",
            {"error": reason[:2000]},
        )

    def record_needs_check(self, action_id: int, reason: str) -> QueuedAction:
        """The last call may have happened and could not be checked: check before any resend."""
        return self._update(
            action_id, "status = 'needs_check', error = :error", {"error": reason[:2000]}
        )

    def record_not_sent(self, action_id: int, reason: str) -> QueuedAction:
        """Back to ``requested``: TikTok certainly did not act (throttled, never connected)."""
        return self._update(
            action_id, "status = 'requested', error = :error", {"error": reason[:2000]}
        )

    def claimed_comment_ids(self, account_key: str, action_id: int) -> set[str]:
        """Comment ids other actions of the account already own (never claimed twice)."""
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    sa.text(
                        f"SELECT result_comment_id FROM {TABLE_NAME} WHERE account_key = :key "
                        "AND id <> :id AND result_comment_id IS NOT NULL"
                    ),
                    {"key": account_key, "id": action_id},
                ).scalars()
            )


def check_action(
    account: Account | None, target: MentionTarget, action: str, text: str | None
) -> None:
    """Refuse, with the reason, an action TikTok could not or would not carry out.

    Run by the CLI before queueing and by the job when it picks a row up (a downstream tool
    may have written anything), so both refuse the same things in the same words.
    """
    if action not in ACTION_KINDS:
        raise ActionRefused(f"unknown action {action!r}; expected one of {', '.join(ACTION_KINDS)}")
    if account is None:
        raise ActionRefused(
            f"mention {target.external_id!r} belongs to account {target.account_key!r}, "
            "which is not registered (tiktok-etl accounts list)"
        )
    if account.api != "business":
        raise ActionRefused(
            f"account {account.account_key!r} is a Display API (Login Kit) account: Display "
            "tokens cannot write comments; connect it as a Business account "
            "(tiktok-etl auth login --api business)"
        )
    if not account.is_active:
        raise ActionRefused(
            f"account {account.account_key!r} is {account.status}; fix it first "
            "(tiktok-etl accounts list)"
        )
    if action in ("delete", "hide"):
        if target.post_type not in ("comment", "reply"):
            raise ActionRefused(
                f"mention {target.external_id!r} is a {target.post_type}: only comments and "
                f"replies can be {'deleted' if action == 'delete' else 'hidden'}"
            )
        if action == "hide" and target.video_id is None:
            raise ActionRefused(
                f"the video of mention {target.external_id!r} is unknown (no tiktok_comments "
                "row); materialize its partition again"
            )
        return
    if text is None:
        raise ActionRefused(f"a {action} needs text (--text)")
    try:
        check_comment_text(text)
    except ValueError as exc:
        raise ActionRefused(f"{exc} (TikTok's limit for a comment or reply)") from None
    if target.video_id is None:
        raise ActionRefused(
            f"the video of mention {target.external_id!r} is unknown (no tiktok_comments row); "
            "materialize its partition again"
        )
    if action == "reply" and target.post_type == "reply" and target.parent_comment_id is None:
        raise ActionRefused(f"the parent comment of reply {target.external_id!r} is unknown")


def markdown_table() -> str:
    """The README's column table (between ``<!-- sl_mention_actions columns -->`` markers)."""
    lines = ["| column | PostgreSQL | null | description |", "|---|---|---|---|"]
    for c in MENTION_ACTIONS.columns:
        nullable = "yes" if c.nullable else "no"
        lines.append(f"| `{c.name}` | `{c.pg_type}` | {nullable} | {c.description} |")
    return "\n".join(lines) + "\n"
