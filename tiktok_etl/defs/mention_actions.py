"""``tiktok_mention_actions``: the job that works the queue of replies, comments and deletes.

One op in the ``tiktok_api`` pool works every open row of ``sl_mention_actions`` (see
:mod:`tiktok_etl.runtime.mention_actions` for the exactly-once rules). A retry or a
re-execution of the job is safe: rows left ``in_flight`` are checked against TikTok before
anything is sent again. ``tiktok_mention_actions_sensor`` (needs the Dagster daemon, which
``dagster dev`` and ``tiktok-etl dev`` start) launches a run when requested rows exist (or
``in_flight`` / ``needs_check`` rows untouched for five minutes) and no run of the job is
already queued or in progress.
"""

import dagster as dg

from tiktok_etl.defs.assets import POOL
from tiktok_etl.defs.catalog import asset_catalog
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.runtime.mention_actions import ActionRunner
from tiktok_etl.storage.mention_actions import MENTION_ACTIONS, MentionActionQueue

JOB_NAME = "tiktok_mention_actions"
OP_NAME = "tiktok_run_mention_actions"

# a lost database connection is worth another try; the rows make a retry exact
ACTIONS_RETRY = dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL)

QUEUE_ASSET_KEY = dg.AssetKey(MENTION_ACTIONS.name)

sl_mention_actions = dg.AssetSpec(
    QUEUE_ASSET_KEY,
    description=(
        "The queue of replies, comments and deletes requested on mentions. Downstream tools "
        "INSERT rows (external_id, action, text); the tiktok_mention_actions job carries each "
        "out exactly once and records TikTok's comment id. Observed after every run."
    ),
    group_name="tiktok",
    kinds={"tiktok", "postgres"},
    # requested_by and reply texts name people; observed, never materialized: no freshness
    **asset_catalog(
        MENTION_ACTIONS.name,
        MENTION_ACTIONS.columns,
        pii=True,
        api_families=("business",),
        fresh=False,
        spec=True,
    ),
)

_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.op(
    name=OP_NAME,
    pool=POOL,
    retry_policy=ACTIONS_RETRY,
    description="Carry out every open row of sl_mention_actions exactly once.",
)
def tiktok_run_mention_actions(
    context: dg.OpExecutionContext, tiktok: TikTokConnectorResource
) -> dg.Output[None]:
    runtime = tiktok.runtime
    with tiktok.connector() as connector:
        report = ActionRunner(runtime, connector).run()
    for line in report.lines:
        context.log.info(line)
    counts = {f"rows_{outcome}": count for outcome, count in sorted(report.outcomes.items())}
    context.log_event(dg.AssetObservation(asset_key=QUEUE_ASSET_KEY, metadata=counts))
    return dg.Output(None, metadata=counts)


@dg.job(name=JOB_NAME, description=__doc__.splitlines()[0].split(": ", 1)[1])
def mention_actions_job() -> None:
    tiktok_run_mention_actions()


@dg.sensor(
    job=mention_actions_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Launches tiktok_mention_actions when sl_mention_actions has open rows and no run of "
        "the job is queued or in progress."
    ),
)
def tiktok_mention_actions_sensor(
    context: dg.SensorEvaluationContext, tiktok: TikTokConnectorResource
) -> dg.RunRequest | dg.SkipReason:
    open_rows = MentionActionQueue(tiktok.runtime.engine).due_count()
    if not open_rows:
        return dg.SkipReason("no requested rows (nor stale ones to check) in sl_mention_actions")
    active = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=JOB_NAME, statuses=_ACTIVE), limit=1
    )
    if active:
        return dg.SkipReason(f"run {active[0].run_id} is already working the queue")
    return dg.RunRequest(tags={"tiktok_etl/open_actions": str(open_rows)})
