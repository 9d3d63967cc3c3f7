"""Keep OAuth tokens fresh: a sensor that finds tokens close to expiry, and the refresh job.

TikTok access tokens live hours (2 h in newer docs, 24 h in older ones) and refresh tokens
rotate. ``tiktok_token_refresh_sensor`` compares each active account's access-token expiry
with a fraction (``TIKTOK_ETL_REFRESH_FRACTION``, default in ``tiktok_etl.settings``) of the
lifetime TikTok reported for it, and requests one ``tiktok_token_refresh`` run per due
account. The run key ``refresh:<account>:<token version>`` means a token is refreshed by at
most one run, however many ticks see it due.

The job maps one step per account (``tiktok_refresh_account_tokens[<account>]``), so one
account needing re-authorization fails its own step, named in the UI with the command that
fixes it, while the other accounts of the run still refresh. Each step also records an
``AssetObservation`` of ``tiktok_account_tokens`` for the account's partition: the account's
token health (status, expiries, version; never a token value) stays on the asset page after
the run, where data engineers look, and needs no check-execution plumbing (an op job cannot
emit asset-check results). Failing runs are tagged ``tiktok/reauth_required``, runs that met
a refresh token near its own expiry ``tiktok/refresh_token_expiring``, so both can be
filtered in the Runs list.

The due rule, the warning texts and the choice of accounts live in ``tiktok_etl.auth``
(``model``, ``health``); this module only wires them into ops, the job and the sensor.
"""

import warnings
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from tiktok_etl.api import ReauthRequired, TikTokError
from tiktok_etl.auth.health import (
    accounts_to_refresh,
    due_now,
    fix_command,
    nothing_due_reason,
    refresh_token_expiry_warning,
    step_keys,
    utc_text,
)
from tiktok_etl.auth.model import StoredTokens, validate_refresh_fraction
from tiktok_etl.defs.catalog import asset_catalog
from tiktok_etl.defs.failures import is_transient
from tiktok_etl.defs.partitions import accounts_partitions
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.runtime import Runtime
from tiktok_etl.settings import ConfigError, Settings, setting_for
from tiktok_etl.storage.accounts import Account
from tiktok_etl.storage.errors import AccountNotFound
from tiktok_etl.storage.tables import col

REFRESH_FRACTION_VAR = "TIKTOK_ETL_REFRESH_FRACTION"
_REFRESH_FRACTION_DEFAULT = setting_for(REFRESH_FRACTION_VAR).default

JOB_NAME = "tiktok_token_refresh"
PLAN_OP = "tiktok_token_refresh_plan"
REFRESH_OP = "tiktok_refresh_account_tokens"
TOKENS_ASSET_KEY = dg.AssetKey("tiktok_account_tokens")
ACCOUNT_TAG = "tiktok/account"
REAUTH_TAG = "tiktok/reauth_required"
EXPIRING_TAG = "tiktok/refresh_token_expiring"

# TikTok being briefly unavailable is worth another try; a refused refresh token is not
TRANSIENT_RETRY = dg.RetryPolicy(
    max_retries=3, delay=20, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def refresh_fraction(
    settings: Settings | None = None, env: Mapping[str, str] | None = None
) -> float:
    """``TIKTOK_ETL_REFRESH_FRACTION``: refresh once less than this share of an access token's
    reported lifetime remains (validated by :class:`Settings`, which names the variable)."""
    return (settings or Settings.from_env(env)).refresh_fraction


def refresh_run_config(
    accounts: list[str], *, force: bool = False, fraction: float | None = None
) -> dict[str, Any]:
    """Run config of ``tiktok_token_refresh`` for ``accounts`` (for sensors, tests, scripts)."""
    config: dict[str, Any] = {"accounts": list(accounts)}
    if force:
        config["force"] = True
    if fraction is not None:
        config["fraction"] = fraction
    return {"ops": {PLAN_OP: {"config": config}}}


# what each observation of tiktok_account_tokens records (see _observation): its catalog columns
TOKEN_HEALTH_COLUMNS = (
    col("account", "text", "the connected account (partition key)", nullable=False),
    col("api", "text", "the API family: `display` or `business`", nullable=False),
    col("status", "text", "`active`, `reauth_required`, `revoked` or `disabled`",
        nullable=False),
    col("status_reason", "text", "why the account is not active, when it is not"),
    col("fix", "text", "the command that re-authorizes a `reauth_required` account"),
    col("refreshed", "boolean", "this run rotated the tokens", nullable=False),
    col("token_version", "bigint", "version of the stored pair (bumped by every rotation)"),
    col("access_expires_at", "timestamptz", "when the access token expires"),
    col("access_expires_in_seconds", "bigint", "seconds the access token had left"),
    col("refresh_expires_at", "timestamptz", "when the refresh token expires"),
    col("refresh_token_expiring", "boolean",
        "the refresh token expires soon: re-authorize before then", nullable=False),
    col("refresh_token_warning", "text", "what expires when, if the refresh token is close"),
)  # fmt: skip

tiktok_account_tokens = dg.AssetSpec(
    TOKENS_ASSET_KEY,
    description=(
        "OAuth token health of each connected account, observed by the `tiktok_token_refresh` "
        "job: status, access and refresh expiry, token version (never a token value). The "
        "tokens themselves live encrypted in PostgreSQL (tiktok_tokens)."
    ),
    partitions_def=accounts_partitions,
    group_name="tiktok",
    kinds={"tiktok", "postgres"},
    # observed, never materialized: Dagster's freshness evaluator would say "unknown" forever
    **asset_catalog("tiktok_tokens", TOKEN_HEALTH_COLUMNS, pii=False, fresh=False, spec=True),
)


class TokenRefreshConfig(dg.Config):
    accounts: list[str] = Field(
        default_factory=list,
        description=(
            "Account keys to refresh. Empty: every active account whose access token is due "
            "(every active account with `force`)."
        ),
    )
    force: bool = Field(
        default=False, description="Rotate the tokens even when they are not due yet."
    )
    fraction: float | None = Field(
        default=None,
        description=f"Refresh when less than this share of the lifetime remains "
        f"(default: {REFRESH_FRACTION_VAR}, else {_REFRESH_FRACTION_DEFAULT}).",
    )


@dg.op(
    name=PLAN_OP,
    out=dg.DynamicOut(dict),
    description="Decide which accounts this run refreshes: the configured ones, or every due one.",
)
def tiktok_token_refresh_plan(
    context: dg.OpExecutionContext, config: TokenRefreshConfig, tiktok: TikTokConnectorResource
) -> Iterator[dg.DynamicOutput]:
    runtime = tiktok.runtime
    fraction = (
        config.fraction if config.fraction is not None else refresh_fraction(runtime.settings)
    )
    try:
        fraction = validate_refresh_fraction(fraction)
    except ValueError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    accounts = accounts_to_refresh(
        config.accounts,
        force=config.force,
        fraction=fraction,
        accounts=runtime.accounts,
        tokens=runtime.tokens,
        now=datetime.now(UTC),
    )
    if not config.accounts:
        context.log.info(
            "%d account(s) to refresh: %s", len(accounts), ", ".join(accounts) or "none"
        )
    for mapping_key, account_key in step_keys(accounts):
        yield dg.DynamicOutput(
            {"account_key": account_key, "force": config.force, "fraction": fraction},
            mapping_key=mapping_key,
        )


def _add_run_tag(context: dg.OpExecutionContext, tag: str, account_key: str) -> None:
    """Append ``account_key`` to a comma-separated run tag (visible and filterable in Runs)."""
    try:
        current = context.instance.get_run_by_id(context.run_id)
        existing = (current.tags.get(tag, "") if current else "").split(",")
        values = [v for v in dict.fromkeys([*existing, account_key]) if v]
        context.instance.add_run_tags(context.run_id, {tag: ",".join(values)})
    except Exception as exc:  # tags are a convenience; never fail a refresh over them
        context.log.debug("could not tag the run: %s", type(exc).__name__)


def _observation(
    account: Account,
    tokens: StoredTokens | None,
    *,
    refreshed: bool,
    warning: str | None = None,
) -> dg.AssetObservation:
    """The account's token health as an observation of ``tiktok_account_tokens``."""
    now = datetime.now(UTC)
    metadata: dict[str, Any] = {
        "account": account.account_key,
        "api": account.api,
        "status": account.status,
        "refreshed": refreshed,
    }
    if account.status_reason:
        metadata["status_reason"] = account.status_reason
    if account.status == "reauth_required":
        metadata["fix"] = fix_command(account.account_key, account.api)
    if tokens is not None:
        metadata["token_version"] = tokens.version
        if tokens.expires_at is not None:
            metadata["access_expires_at"] = dg.MetadataValue.timestamp(tokens.expires_at)
            metadata["access_expires_in_seconds"] = int((tokens.expires_at - now).total_seconds())
        if tokens.refresh_expires_at is not None:
            metadata["refresh_expires_at"] = dg.MetadataValue.timestamp(tokens.refresh_expires_at)
    metadata["refresh_token_expiring"] = warning is not None
    if warning:
        metadata["refresh_token_warning"] = warning
    return dg.AssetObservation(
        asset_key=TOKENS_ASSET_KEY, partition=account.account_key, metadata=metadata
    )


def _reauth_failure(context: dg.OpExecutionContext, account: Account, cause: str) -> dg.Failure:
    _add_run_tag(context, REAUTH_TAG, account.account_key)
    command = fix_command(account.account_key, account.api)
    return dg.Failure(
        description=(
            f"TikTok account {account.account_key!r} ({account.api}) needs re-authorization: "
            f"{cause}. Its runs are skipped until someone runs `{command}`."
        ),
        metadata={
            "account": account.account_key,
            "api": account.api,
            "status": "reauth_required",
            "fix": command,
        },
        allow_retries=False,
    )


@dg.op(
    name=REFRESH_OP,
    out=dg.Out(dict),
    retry_policy=TRANSIENT_RETRY,
    description=(
        "Refresh one account's tokens under its PostgreSQL advisory lock: re-read the pair, "
        "refresh it if still due, write the rotated pair with compare-and-swap."
    ),
)
def tiktok_refresh_account_tokens(
    context: dg.OpExecutionContext, request: dict, tiktok: TikTokConnectorResource
) -> Iterator[Any]:
    # a generator: the observation is recorded even when the step then fails
    account_key = request["account_key"]
    runtime = tiktok.runtime
    try:
        account = runtime.accounts.get(account_key)
    except AccountNotFound:
        raise dg.Failure(
            description=f"no TikTok account {account_key!r}; see `tiktok-etl accounts list`",
            allow_retries=False,
        ) from None
    if account.status == "reauth_required":
        yield _observation(account, runtime.tokens.load(account_key), refreshed=False)
        raise _reauth_failure(context, account, account.status_reason or "marked earlier")
    if account.status != "active":
        context.log.info("account %s is %s: not refreshed", account_key, account.status)
        yield dg.Output({"account_key": account_key, "refreshed": False, "status": account.status})
        return
    with tiktok.connector() as connector:
        provider = connector.token_provider(account)
        try:
            if request.get("force"):
                result = provider.force_refresh()
            else:
                result = provider.refresh_if_due(float(request["fraction"]))
        except ReauthRequired as exc:
            account = runtime.accounts.get(account_key)  # the provider marked it
            yield _observation(account, runtime.tokens.load(account_key), refreshed=False)
            raise _reauth_failure(
                context, account, f"TikTok refused its refresh token ({exc})"
            ) from exc
        except (TikTokError, ConfigError) as exc:  # typed, token-free messages
            if is_transient(exc):
                raise  # the retry policy tries again
            raise dg.Failure(
                description=f"refreshing {account_key!r} failed: {type(exc).__name__}: {exc}",
                metadata={"account": account_key, "api": account.api},
                allow_retries=False,
            ) from exc
    tokens = result.tokens
    warning = refresh_token_expiry_warning(tokens, datetime.now(UTC))
    if warning:
        _add_run_tag(context, EXPIRING_TAG, account_key)
        context.log.warning(
            "account %s: %s; re-authorize before then with `%s` (the account stays active)",
            account_key,
            warning,
            fix_command(account_key, account.api),
        )
    if result.refreshed:
        context.log.info(
            "account %s: tokens rotated (version %d, access token valid until %s)",
            account_key,
            tokens.version,
            utc_text(tokens.expires_at) if tokens.expires_at else "unknown",
        )
    else:
        context.log.info("account %s: tokens not due (or already refreshed elsewhere)", account_key)
    observation = _observation(account, tokens, refreshed=result.refreshed, warning=warning)
    yield observation
    yield dg.Output(
        {
            "account_key": account_key,
            "refreshed": result.refreshed,
            "token_version": tokens.version,
            "refresh_token_expiring": warning is not None,
        },
        metadata=dict(observation.metadata),
    )


@dg.job(
    name=JOB_NAME,
    executor_def=dg.in_process_executor,
    # ahead of ingestion runs in the run queue: a token must not expire waiting for a slot
    tags={"dagster/priority": "5"},
    description=(
        "Refresh the OAuth tokens of the configured TikTok accounts (one step per account; "
        "an account whose refresh token TikTok refuses is marked reauth_required and fails "
        "its own step only)."
    ),
)
def token_refresh_job() -> None:
    tiktok_token_refresh_plan().map(tiktok_refresh_account_tokens)


# Dagster 1.13's sensor decorator passes `owners` through and warns that it is beta, even
# when unset; nothing here uses it
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*owners.*")


@dg.sensor(
    job=token_refresh_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests a token refresh run for every active account whose access token has less "
        f"than {REFRESH_FRACTION_VAR} (default {_REFRESH_FRACTION_DEFAULT}) of its reported "
        "lifetime left; one run per token version."
    ),
)
def tiktok_token_refresh_sensor(
    context: dg.SensorEvaluationContext, tiktok: TikTokConnectorResource
) -> dg.SensorResult | dg.SkipReason:
    runtime = tiktok.runtime
    fraction = refresh_fraction(runtime.settings)
    now = datetime.now(UTC)
    schedule = runtime.tokens.refresh_schedule(fraction)
    due = due_now(schedule, now)
    blocked = [a.account_key for a in runtime.accounts.list(status="reauth_required")]
    if blocked:
        context.log.warning(
            "accounts needing re-authorization (`tiktok-etl auth login`): %s", ", ".join(blocked)
        )
    # An account is often marked reauth_required by an ingest run's refresh, not by this job:
    # one refresh run per stored pair makes it visible where people look (a failed step
    # naming the fix, and the account's tiktok_account_tokens observation).
    surface = _reauth_requests(context.instance, runtime, blocked, fraction)
    if not due and surface:
        return dg.SensorResult(run_requests=surface)
    if not due:
        return dg.SkipReason(nothing_due_reason(schedule, fraction, blocked))
    requests = [
        dg.RunRequest(
            run_key=f"refresh:{entry.account_key}:{entry.version}",
            run_config=refresh_run_config([entry.account_key], fraction=fraction),
            tags={ACCOUNT_TAG: entry.account_key, "tiktok/token_version": str(entry.version)},
        )
        for entry in due
    ]
    context.log.info(
        "requesting token refresh for %s", ", ".join(entry.account_key for entry in due)
    )
    return dg.SensorResult(run_requests=requests + surface)


def _reauth_requests(
    instance: dg.DagsterInstance, runtime: Runtime, blocked: list[str], fraction: float
) -> list[dg.RunRequest]:
    """One run per blocked account and stored token version, unless already launched."""
    requests = []
    for key in blocked:
        stored = runtime.tokens.load(key)
        if stored is None:
            continue
        run_key = f"reauth:{key}:{stored.version}"
        launched = instance.get_runs_count(dg.RunsFilter(tags={"dagster/run_key": run_key}))
        if launched:
            continue
        requests.append(
            dg.RunRequest(
                run_key=run_key,
                run_config=refresh_run_config([key], fraction=fraction),
                tags={ACCOUNT_TAG: key, "tiktok/token_version": str(stored.version)},
            )
        )
    return requests
