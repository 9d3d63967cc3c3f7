"""The app-wide rate budget: one sliding window per endpoint per app, kept in PostgreSQL.

TikTok counts requests per app, whichever process sends them, so every worker, step and run
that shares the database shares one budget. :class:`PostgresRateBudget` implements the
limiter protocol of :mod:`tiktok_etl.api.ratelimit` (the in-memory ``SlidingWindowLimiter``
stays for the library used alone) with the same completion-time accounting and the same
proof: a request counts from its admission until its answer is back (``release()``), then
for one window after; admissions to an endpoint are serialised (a transaction-level
advisory lock). Time is the database server's clock (``clock_timestamp()``), so workers on
different machines never disagree about where the window is.

- **Leases.** A slot not released within ``lease_seconds`` (its holder crashed or hangs)
  counts as completed at its lease end, so it leaves the window ``lease_seconds + window``
  after it was taken at the latest. The lease must exceed the longest request (the HTTP
  timeout and more): a request that reaches TikTok after its lease ended is the one case the
  budget cannot account for.
- **Fairness.** A caller that has to wait takes a ticket (``tiktok_rate_waiters``) and keeps
  it across its attempts; a slot goes to a caller only when fewer live tickets are ahead of
  it than slots are free. So waiters of every process are served in the order they started
  waiting, and a newcomer never jumps the queue. A ticket expires shortly after its holder
  should have asked again (a crashed waiter blocks nobody for long); a caller that gives up
  (``WaitTooLong``) withdraws its ticket.
- **Pauses.** ``penalize`` (the server asked us to back off) pauses the endpoint for every
  process, not only the one that was told.
- **Cost.** One attempt is one call of the ``tiktok_rate_acquire`` function (one round trip,
  one short transaction); a release is one call of ``tiktok_rate_release``. The budget's
  connections are autocommit and skip the pool's pre-ping (a dropped connection is retried
  once instead); its transactions commit without waiting for the WAL flush (a database
  crash can forget only the last moment of slots). Rows leave the tables when they leave
  the window. Measured in ``benchmarks/rate_budget.py`` (BENCHMARKS.md).

This module holds no state of its own beyond a connection pool: everything is in the tables
of migration ``0006_rate_budget``.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from tiktok_etl.api.clock import Clock, SystemClock
from tiktok_etl.api.ratelimit import Slot, WaitTooLong
from tiktok_etl.settings import Settings

_log = logging.getLogger(__name__)

# waits shorter than this are rounded up so float noise cannot spin a loop
_MIN_WAIT = 1e-3
# a wait this close to `max_wait` still fits (clock arithmetic noise)
_WAIT_SLACK = 1e-3

_ACQUIRE = sa.text(
    "SELECT slot_id, wait, ticket, reason FROM tiktok_rate_acquire("
    ":app, :endpoint, :limit, :window, :lease, :holder, :ticket, :grace)"
)
_RELEASE = sa.text("SELECT tiktok_rate_release(:app, :endpoint, :slot_id)")
_WITHDRAW = sa.text(
    "DELETE FROM tiktok_rate_waiters WHERE app = :app AND endpoint = :endpoint AND ticket = :ticket"
)
_PAUSE = sa.text(
    "INSERT INTO tiktok_rate_pauses (app, endpoint, blocked_until) "
    "VALUES (:app, :endpoint, clock_timestamp() + make_interval(secs => :seconds)) "
    "ON CONFLICT (app, endpoint) DO UPDATE "
    "SET blocked_until = greatest(tiktok_rate_pauses.blocked_until, excluded.blocked_until)"
)


def _holder() -> str:
    """Who holds a slot, for an operator reading the table: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@functools.cache
def _budget_engine(url: str) -> sa.Engine:
    # one pool per database per process, autocommit: one statement is one transaction
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=False)


def _host(base_url: str) -> str:
    return urlsplit(base_url).netloc or base_url


def app_identity(settings: Settings) -> Callable[[str], str]:
    """Which app's budget an endpoint spends: API family, host and public app key.

    Display endpoints are the ``/v2/...`` paths, Business ones are relative
    (``business/...``, ``tt_user/...``). The client key and app id are public identifiers
    (they appear in authorization URLs); secrets never reach the table.
    """
    display = f"display:{_host(settings.display_api_base_url)}:{settings.display_client_key or '-'}"
    business = f"business:{_host(settings.business_api_base_url)}:{settings.business_app_id or '-'}"
    return lambda endpoint: display if endpoint.startswith("/") else business


class PostgresRateBudget:
    """An exact sliding-window budget per endpoint per app, shared through PostgreSQL.

    Example::

        budget = PostgresRateBudget(engine, app="display:open.tiktokapis.com:aw3k",
                                    default_limit=600)
        with Transport(limiter=budget) as transport: ...

    ``app`` is the app's identity, or a function from endpoint to identity (one transport
    may serve both API families). ``clock`` only measures and sleeps the waits (a test can
    control them); the window itself runs on the database's clock.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        app: str | Callable[[str], str],
        default_limit: int = 600,
        window_seconds: float = 60.0,
        limits: Mapping[str, int] | None = None,
        lease_seconds: float = 300.0,
        ticket_grace_seconds: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        if default_limit < 1 or window_seconds <= 0 or lease_seconds <= 0:
            raise ValueError("default_limit must be >= 1, window and lease seconds > 0")
        if limits and min(limits.values()) < 1:
            raise ValueError("every per-endpoint limit must be >= 1")
        self._engine = _budget_engine(engine.url.render_as_string(hide_password=False))
        self._app_of: Callable[[str], str] = app if callable(app) else (lambda _: app)
        self.default_limit = default_limit
        self.window_seconds = window_seconds
        self.limits = dict(limits or {})
        self.lease_seconds = lease_seconds
        self.ticket_grace_seconds = ticket_grace_seconds
        self._clock = clock or SystemClock()
        self._holder = _holder()

    @classmethod
    def for_settings(cls, engine: sa.Engine, settings: Settings) -> PostgresRateBudget:
        """The budget of the configured apps at ``TIKTOK_ETL_RATE_LIMIT_PER_MINUTE``."""
        return cls(engine, app=app_identity(settings), default_limit=settings.rate_limit_per_minute)

    def limit_for(self, endpoint: str) -> int:
        return self.limits.get(endpoint, self.default_limit)

    def acquire(self, endpoint: str, max_wait: float | None = None) -> Slot:
        start = self._clock.monotonic()
        ticket: int | None = None
        try:
            while True:
                outcome = self._attempt(endpoint, ticket)
                waited = self._clock.monotonic() - start
                if isinstance(outcome, Slot):
                    ticket = None  # granted: the function removed it
                    outcome.waited = waited
                    return outcome
                wait, ticket, reason = outcome
                if max_wait is not None and waited + wait > max_wait + _WAIT_SLACK:
                    raise WaitTooLong(
                        endpoint, wait=wait, waited=waited, max_wait=max_wait, reason=reason
                    )
                self._clock.sleep(max(wait, _MIN_WAIT))
        finally:
            if ticket is not None:
                self._withdraw(endpoint, ticket)

    def try_acquire(self, endpoint: str) -> Slot | float:
        """One attempt, never blocking, never queueing: a slot, or the seconds to wait."""
        outcome = self._attempt(endpoint, None)
        if isinstance(outcome, Slot):
            return outcome
        wait, ticket, _ = outcome
        self._withdraw(endpoint, ticket)
        return wait

    def penalize(self, endpoint: str, seconds: float) -> None:
        if seconds <= 0:
            return
        self._execute(
            _PAUSE, {"app": self._app_of(endpoint), "endpoint": endpoint, "seconds": seconds}
        )

    def _attempt(self, endpoint: str, ticket: int | None) -> Slot | tuple[float, int, str]:
        app = self._app_of(endpoint)
        params = {
            "app": app,
            "endpoint": endpoint,
            "limit": self.limit_for(endpoint),
            "window": self.window_seconds,
            "lease": self.lease_seconds,
            "holder": self._holder,
            "ticket": ticket,
            "grace": self.ticket_grace_seconds,
        }
        (row,) = self._execute(_ACQUIRE, params)
        if row.slot_id is not None:
            slot_id = int(row.slot_id)
            return Slot(endpoint, lambda: self._release(app, endpoint, slot_id))
        reason = (
            "paused: the server asked us to back off"
            if row.reason == "paused"
            else f"the app's budget of {self.limit_for(endpoint)} per "
            f"{self.window_seconds:g}s is spent"
        )
        return float(row.wait), int(row.ticket), reason

    def _release(self, app: str, endpoint: str, slot_id: int) -> None:
        try:
            self._execute(_RELEASE, {"app": app, "endpoint": endpoint, "slot_id": slot_id})
        except sa.exc.DBAPIError:
            # never mask the answer in hand: an unreleased slot counts until its lease ends,
            # which only costs budget, never a refused request
            _log.warning(
                "could not release a rate slot of %s; it expires with its lease",
                endpoint,
                exc_info=True,
            )

    def _withdraw(self, endpoint: str, ticket: int) -> None:
        try:
            self._execute(
                _WITHDRAW, {"app": self._app_of(endpoint), "endpoint": endpoint, "ticket": ticket}
            )
        except sa.exc.DBAPIError:
            _log.warning(
                "could not withdraw a rate ticket of %s; it expires", endpoint, exc_info=True
            )

    def _execute(self, statement: sa.TextClause, params: dict[str, Any]) -> list[sa.Row[Any]]:
        """Run one statement in its own (autocommit) transaction; the rows it returned."""
        for attempt in (1, 2):
            try:
                with self._engine.connect() as conn:
                    result = conn.execute(statement, params)
                    return list(result) if result.returns_rows else []
            except sa.exc.DBAPIError as exc:
                # the pool skips the pre-ping: a connection the server dropped fails here once
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
