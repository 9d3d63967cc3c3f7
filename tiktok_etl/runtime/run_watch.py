"""The two Dagster classes ``dagster.yaml`` names so dead runs are seen (logic: run_recovery).

- :class:`WatchedInstanceStorage`: the project's instance storage, whose event log also
  (1) tags each run with the process that executes it, when that process reports the run's
  start, and (2) when a step reports that it is blocked on a pool, checks who holds the
  pool's slots and, if dead or finished runs do, says so in the waiting run's log, naming
  them; and (3) creates a pool's default limit safely when runs start at the same moment
  (:mod:`tiktok_etl.runtime.pool_limits`). This runs in every process that executes a run:
  ``dagster asset materialize``, ``dg.materialize``, a launched run worker.
- :class:`LocalRunLauncher`: Dagster's ``DefaultRunLauncher``, plus the worker health check
  run monitoring asks for, answered from those tags, so the daemon marks a run failed when
  its local process is gone (and frees its slots, ``free_slots_after_run_end_seconds``).

Both only add to Dagster's classes; a failure of the additions is logged and never fails
the run or the daemon.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster import DagsterEvent, DagsterEventType, DagsterRun, EventLogEntry, MetadataValue
from dagster._core.events import EngineEventData
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage

from tiktok_etl.runtime import deployment, pool_limits, run_recovery
from tiktok_etl.runtime.instance_storage import TikTokInstanceStorage, resolve_instance_url
from tiktok_etl.settings import Settings

logger = logging.getLogger(__name__)

# the start of Dagster's STEP_CONCURRENCY_BLOCKED engine messages (initial and repeated)
_BLOCKED_MESSAGES = ("Step blocked by limit for pool", "Step still blocked by limit for pool")


class WatchedEventLogStorage(PostgresEventLogStorage):
    """Dagster's PostgreSQL event log, plus the two observations in the module docstring."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True) -> None:
        super().__init__(postgres_url, should_autocreate_tables)
        # waiting run id -> what it last said, so each of its blocked steps does not repeat it
        self._said: dict[str, str] = {}
        self._deployment_checked = False

    def store_event(self, event: EventLogEntry) -> None:
        self._check_deployment()
        super().store_event(event)
        self._observe(event)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        self._check_deployment()
        super().store_event_batch(events)
        for event in events:
            self._observe(event)

    def initialize_concurrency_limit_to_default(self, concurrency_key: str) -> bool:
        # Dagster's own version fails the run that loses the race to create the row
        created = pool_limits.initialize_default_limit(self, concurrency_key)
        if created is None:
            return super().initialize_concurrency_limit_to_default(concurrency_key)
        return created

    def _check_deployment(self) -> None:
        # before the first event (a run's enqueue or start): the instance's ref, which names
        # the run launcher, exists only once the instance is built, after its storage
        if self._deployment_checked:
            return
        ref = getattr(self._instance, "_ref", None) if self.has_instance else None
        if ref is not None:
            deployment.check_launcher(ref.run_launcher_data, Settings.from_env())
        self._deployment_checked = True

    def _observe(self, event: EventLogEntry) -> None:
        dagster_event = event.dagster_event
        if dagster_event is None:
            return
        try:
            if dagster_event.event_type == DagsterEventType.RUN_START:
                self._instance.add_run_tags(event.run_id, run_recovery.worker_tags())
            elif dagster_event.event_type == DagsterEventType.ENGINE_EVENT and (
                (dagster_event.message or "").startswith(_BLOCKED_MESSAGES)
            ):
                self._say_who_blocks(event)
        except Exception:  # an observation must never fail the run that stores the event
            logger.warning("dead-run check failed for run %s", event.run_id, exc_info=True)

    def _say_who_blocks(self, event: EventLogEntry) -> None:
        data = event.dagster_event.engine_event_data if event.dagster_event else None
        pool_value = data.metadata.get("pool") if data else None
        pool = getattr(pool_value, "pool", None) or run_recovery.POOL
        message = run_recovery.blocked_by_dead_runs_message(self._instance, pool, event.run_id)
        if message is None or self._said.get(event.run_id) == message:
            return
        self._said[event.run_id] = message
        logger.warning("%s", message)
        warning = DagsterEvent(
            event_type_value=DagsterEventType.ENGINE_EVENT.value,
            job_name=event.job_name or "",
            message=message,
            event_specific_data=EngineEventData(metadata={"pool": MetadataValue.pool(pool)}),
            step_key=event.step_key,
        )
        self._instance.report_dagster_event(warning, run_id=event.run_id, log_level=logging.WARNING)


class WatchedInstanceStorage(TikTokInstanceStorage):
    """``storage: custom: {module: tiktok_etl.runtime.run_watch, class:
    WatchedInstanceStorage}`` in ``dagster.yaml``: the project's storage, watched."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data=inst_data)
        # the parent created the tables; this one only adds behaviour (and a lazy engine)
        self._event_log_storage = WatchedEventLogStorage(
            postgres_url, should_autocreate_tables=False
        )

    @classmethod
    def config_type(cls) -> dict:
        return {
            "deployment": dg.Field(
                dg.Enum(
                    "TikTokDeployment",
                    [dg.EnumValue(deployment.LOCAL), dg.EnumValue(deployment.DISTRIBUTED)],
                ),
                is_required=False,
                default_value=deployment.LOCAL,
                description="`distributed`: several machines share this instance; refuse to "
                "start with any state local to one (see tiktok_etl.runtime.deployment)",
            )
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> WatchedInstanceStorage:
        if config_value.get("deployment") == deployment.DISTRIBUTED:
            # before anything local starts (the embedded server, a generated key)
            deployment.require_shared_state(
                Settings.from_env(), "dagster.yaml says deployment: distributed"
            )
        return cls(postgres_url=resolve_instance_url(), inst_data=inst_data)


class LocalRunLauncher(DefaultRunLauncher):
    """``DefaultRunLauncher`` with a worker health check for run monitoring: a run whose
    recorded process is gone from this host is ``FAILED``; one on another host, or with no
    record, is reported ``RUNNING`` (not ours to judge; its own host or an operator is)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        tags = dict(run.tags)
        verdict = run_recovery.judge(tags)
        worker = run_recovery.worker_label(tags)
        if verdict == run_recovery.Verdict.DEAD:
            return CheckRunHealthResult(
                WorkerStatus.FAILED, f"the run's process ({worker}) is gone", run_worker_id=worker
            )
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"{verdict.value}: {worker}")
