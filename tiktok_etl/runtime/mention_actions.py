"""Carry out the queued mention actions (``sl_mention_actions``) exactly once.

For each claimed row (see :mod:`tiktok_etl.storage.mention_actions` for the locking):

1. resolve the mention and check the request (a downstream tool may have written anything):
   a refused row fails with the reason, the run goes on;
2. a row found ``in_flight`` or ``needs_check`` may already have happened (a worker was
   killed, or a call ended ambiguously): *check* first;
3. record the intent (``in_flight``, ``attempts + 1``), committed, then call TikTok;
4. on success record ``done`` with TikTok's comment id and move the mention's ``status``;
   when TikTok certainly did not act (throttled, connection never opened) the row goes back
   to ``requested``; after any other failure (a timeout, a dropped connection, a 5xx after
   the request may have been sent) the row is *checked* before any new attempt.

A check re-reads the parent's replies (or the video's comments) for a comment by the account
(``owner``) with exactly this text, created since the first intent (less ``CLOCK_SKEW``
for the difference between our clock and TikTok's), that no other action already owns:
found means done with that id; not found means the write did not happen and may be sent
again. For a delete, the check is whether the comment is still listed; a hide sets a state
(``HIDE``), so it is simply sent again. A check that cannot
read the listing leaves the row ``needs_check``: the next run checks again, never resends
blindly. At most ``MAX_SENDS`` calls are made per row.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from tiktok_etl.api import BusinessClient, RateLimited, ServerError, TikTokError, TransportError
from tiktok_etl.api.errors import (
    OAuthError,
    RequestNotSendable,
    ScopeNotAuthorized,
    TokenExpired,
)
from tiktok_etl.api.transport import NEVER_SENT
from tiktok_etl.runtime import Runtime
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.storage.accounts import Account
from tiktok_etl.storage.errors import AccountNotFound
from tiktok_etl.storage.mention_actions import (
    ActionKind,
    ActionRefused,
    ActionWorker,
    AmbiguousMention,
    MentionActionQueue,
    MentionNotFound,
    MentionTarget,
    QueuedAction,
    check_action,
    find_mention,
)

log = logging.getLogger(__name__)

CLOCK_SKEW = timedelta(minutes=10)
MAX_SENDS = 3
MENTION_STATUS = {
    "reply": "replied",
    "comment": "replied",
    "delete": "deleted",
    "hide": "hidden",
}


@dataclass
class ActionReport:
    """What one pass over the queue did: row counts per outcome, and one line per row."""

    outcomes: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)

    def add(self, row: QueuedAction, outcome: str, detail: str = "") -> None:
        self.outcomes[outcome] += 1
        text = f"action {row.id} ({row.action} on {row.external_id}): {outcome}"
        self.lines.append(f"{text}: {detail}" if detail else text)


def _certainly_not_sent(exc: TikTokError) -> bool:
    """TikTok did not act: it throttled us, refused the token, or no connection opened (a
    failed token refresh, `OAuthError`, happens before the write is sent)."""
    if isinstance(
        exc, RateLimited | TokenExpired | ScopeNotAuthorized | RequestNotSendable | OAuthError
    ):
        return True
    return isinstance(exc, TransportError) and isinstance(exc.__cause__, NEVER_SENT)


@dataclass(frozen=True)
class Write:
    """One action on one mention, as TikTok calls: what to send and how to recognise it."""

    row: QueuedAction
    target: MentionTarget

    @property
    def kind(self) -> str:
        """``create`` (a top-level comment), ``reply``, ``delete`` or ``hide``."""
        if self.row.action in ("delete", "hide"):
            return self.row.action
        if self.row.action == "comment" or self.target.post_type == "video":
            return "create"
        return "reply"

    @property
    def parent_id(self) -> str:
        parent = self.target.reply_parent("reply")
        assert parent is not None
        return parent

    def send(self, client: BusinessClient) -> str | None:
        video_id = self.target.video_id
        text = self.row.text or ""
        if self.kind == "delete":
            client.delete_comment(self.target.external_id)
            return None
        assert video_id is not None
        if self.kind == "hide":
            client.hide_comment(video_id, self.target.external_id)
            return None
        if self.kind == "reply":
            return client.reply_to_comment(video_id, self.parent_id, text)
        return client.create_comment(video_id, text)

    def check(self, client: BusinessClient, row: QueuedAction, owned: set[str]) -> str | bool:
        """Whether the write already happened: the new comment's id (or ``True`` for a delete
        that took effect), else ``False``. Raises ``TikTokError`` when TikTok cannot be read."""
        video_id = self.target.video_id
        assert video_id is not None
        if self.kind == "delete":
            return not self._still_listed(client, video_id)
        if self.kind == "hide":
            # hiding sets a state: sending it again is the check, and cannot do it twice
            return False
        assert row.started_at is not None
        since = row.started_at - CLOCK_SKEW
        if self.kind == "reply":
            listed = client.replies_since(video_id, self.parent_id, since).items
        else:
            listed = client.comments_since(video_id, since).items
        for comment in sorted(listed, key=lambda c: (c.create_time, c.comment_id)):
            if (
                comment.owner is not False
                and comment.text == row.text
                and comment.comment_id not in owned
            ):
                return comment.comment_id
        return False

    def _still_listed(self, client: BusinessClient, video_id: str) -> bool:
        target = self.target
        if target.post_type == "reply" and target.parent_comment_id is not None:
            listed = client.replies_since(video_id, target.parent_comment_id, _epoch(target)).items
        else:
            listed = client.comments_since(video_id, _epoch(target)).items
        return any(comment.comment_id == target.external_id for comment in listed)


def _epoch(target: MentionTarget) -> datetime:
    """Just before the mention was written: a listing from here on must include it."""
    moment = target.published_at or datetime(1970, 1, 1, tzinfo=UTC)
    return moment - timedelta(seconds=1)


class ActionRunner:
    """One pass over the queue with one connector (one transport, the shared rate budget)."""

    def __init__(self, runtime: Runtime, connector: Connector, *, max_sends: int = MAX_SENDS):
        self.runtime = runtime
        self.connector = connector
        self.queue = MentionActionQueue(runtime.engine)
        self.max_sends = max_sends

    def run(self, limit: int | None = None) -> ActionReport:
        """Work open rows, oldest first, until none is left (or ``limit`` rows were worked)."""
        report = ActionReport()
        worked: set[int] = set()
        with self.queue.worker() as worker:
            while limit is None or len(worked) < limit:
                row = worker.claim(skip=worked)
                if row is None:
                    break
                worked.add(row.id)
                try:
                    self._work(worker, row, report)
                finally:
                    worker.release(row.id)
        return report

    def _account(self, account_key: str) -> Account | None:
        try:
            return self.runtime.accounts.get(account_key)
        except AccountNotFound:
            return None

    def _work(self, worker: ActionWorker, row: QueuedAction, report: ActionReport) -> None:
        try:
            target = find_mention(self.runtime.engine, row.external_id, row.tenant_id)
            account = self._account(target.account_key)
            check_action(account, target, row.action, row.text)
        except (ActionRefused, MentionNotFound, AmbiguousMention) as exc:
            if row.started_at is not None:
                # a call may have happened (the account was disabled since, say): never
                # forget that; the row is looked at again once it can be checked
                reason = f"{exc}; an earlier attempt may have happened, so it is kept to check"
                worker.record_needs_check(row.id, reason)
                report.add(row, "needs_check", reason)
                return
            worker.record_failed(row.id, str(exc))
            report.add(row, "failed", str(exc))
            return
        assert account is not None
        if (row.tenant_id, row.account_key, row.video_id, row.parent_comment_id) != (
            target.tenant_id,
            target.account_key,
            target.video_id,
            target.reply_parent(row.action),
        ):
            row = worker.resolve(row.id, row.action, target)
        source = self.connector.source(account)
        assert source.business is not None
        client = source.business
        write = Write(row, target)
        # killed mid-way or ended ambiguously: the call may have happened, so check first
        recovering = row.status in ("in_flight", "needs_check")
        if recovering and self._checked_done(worker, row, write, client, report):
            return
        while True:
            if row.attempts >= self.max_sends:
                reason = f"gave up after {row.attempts} attempts: {row.error or 'no answer'}"
                worker.record_failed(row.id, reason)
                report.add(row, "failed", reason)
                return
            row = worker.record_intent(row.id)
            try:
                comment_id = write.send(client)
            except TikTokError as exc:
                if _certainly_not_sent(exc):
                    worker.record_not_sent(row.id, str(exc))
                    report.add(row, "requested", f"not sent, kept for the next run: {exc}")
                    return
                log.warning("action %d: %s; checking whether it happened", row.id, exc)
                row = worker.record_needs_check(row.id, str(exc))
                if self._checked_done(worker, row, write, client, report):
                    return
                if not _retryable(exc):
                    worker.record_failed(row.id, str(exc))
                    report.add(row, "failed", str(exc))
                    return
                continue
            row = worker.record_done(row.id, comment_id, MENTION_STATUS[row.action])
            report.add(row, "done", comment_id or "")
            return

    def _checked_done(
        self,
        worker: ActionWorker,
        row: QueuedAction,
        write: Write,
        client: BusinessClient,
        report: ActionReport,
    ) -> bool:
        """Check whether the write happened; True when the row is settled (done or to check)."""
        if row.started_at is None:
            return False  # no intent was ever recorded: nothing was sent
        owned = worker.claimed_comment_ids(write.target.account_key, row.id)
        try:
            found = write.check(client, row, owned)
        except TikTokError as exc:
            reason = f"could not check whether the last attempt happened: {exc}"
            worker.record_needs_check(row.id, reason)
            report.add(row, "needs_check", reason)
            return True
        if found is False:
            return False
        comment_id = found if isinstance(found, str) else None
        worker.record_done(row.id, comment_id, MENTION_STATUS[row.action])
        report.add(row, "done", f"found by the check {comment_id or ''}".rstrip())
        return True


def _retryable(exc: TikTokError) -> bool:
    """An ambiguous failure that another attempt (after a negative check) may get past."""
    return isinstance(exc, ServerError | TransportError)


def run_mention_actions(
    runtime: Runtime,
    *,
    limit: int | None = None,
    http_transport: httpx.BaseTransport | None = None,
) -> ActionReport:
    """Work the queue once with a connector of its own; the CLI's ``--now`` and the job."""
    connector = Connector.open(runtime, http_transport)
    try:
        return ActionRunner(runtime, connector).run(limit)
    finally:
        connector.close()


def request_action(
    runtime: Runtime,
    external_id: str,
    action: ActionKind,
    *,
    text: str | None = None,
    requested_by: str | None = None,
    tenant_id: int | None = None,
) -> QueuedAction:
    """Resolve the mention, refuse what TikTok would refuse, and queue the action.

    Raises :class:`ActionRefused`, :class:`MentionNotFound` or :class:`AmbiguousMention`
    (storage errors, which the CLI reports as one line).
    """
    queue = MentionActionQueue(runtime.engine)
    target = find_mention(runtime.engine, external_id, tenant_id)
    accounts = runtime.accounts
    account = accounts.get(target.account_key) if accounts.exists(target.account_key) else None
    check_action(account, target, action, text)
    duplicate = queue.open_duplicate(target, action, text)
    if duplicate is not None:
        # a second `mentions reply` with the same text is almost always a retyped command
        raise ActionRefused(
            f"action {duplicate} already asks for this {action} on {external_id} and is not "
            "done yet; see tiktok-etl mentions actions"
        )
    return queue.request(target, action, text, requested_by)
