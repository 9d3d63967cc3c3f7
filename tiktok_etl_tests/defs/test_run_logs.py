"""The connector's own log lines reach the Dagster run log, at their level, without secrets.

Runs go through the project's instance (its dagster.yaml manages the ``tiktok_etl`` loggers)
against the served double, which throttles some requests with HTTP 429.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dagster as dg
import pytest

from tiktok_etl.api.redaction import RedactingFilter, register_secret
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.defs.tokens import refresh_run_config, token_refresh_job
from tiktok_etl.runtime import open_runtime
from tiktok_etl.sandbox import FaultConfig, SandboxApp, SandboxClock, build_sandbox

from .conftest import WORLD, materialize

DAY = "2026-11-08"


@pytest.fixture
def sandbox_app(sandbox_clock: SandboxClock) -> SandboxApp:
    # some requests throttled: a partition's users, videos and comments meet a few
    faults = FaultConfig(rate_429=0.3, seed=5)
    return build_sandbox(seed=11, clock=sandbox_clock, faults=faults, **WORLD)


def _python_log_lines(instance: dg.DagsterInstance, run_id: str) -> list[tuple[int, str]]:
    """(level, message) of the run's log lines that are not Dagster events."""
    return [
        (record.level, record.user_message)
        for record in instance.all_logs(run_id)
        if record.dagster_event is None
    ]


def _everything_logged(instance: dg.DagsterInstance, run_id: str) -> str:
    """Every message and every event of the run, as stored."""
    parts = []
    for record in instance.all_logs(run_id):
        parts.append(record.user_message)
        if record.dagster_event is not None:
            parts.append(repr(record.dagster_event))
    return "\n".join(parts)


def _stored_secrets(account_key: str) -> list[str]:
    tokens = open_runtime().tokens.load(account_key)
    assert tokens is not None and tokens.refresh_token
    return [tokens.access_token, tokens.refresh_token]


def test_throttled_requests_show_their_retries_in_the_run_log_at_info(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    add_account("brand", "business", "brand-open-id")
    secrets = _stored_secrets("brand")

    result = materialize(instance, resource, "brand", DAY)

    assert result.success
    throttled = sum(
        m.metadata["api_rate_limited"].value
        for node in ("tiktok_users", "tiktok_videos", "tiktok_comments")
        for m in result.asset_materializations_for_node(node)
    )
    assert throttled > 0
    retries = [
        (level, message)
        for level, message in _python_log_lines(instance, result.run_id)
        if "RateLimited, retry" in message
    ]
    assert retries
    assert {level for level, _ in retries} == {logging.INFO}
    logged = _everything_logged(instance, result.run_id)
    assert "HTTP Request:" not in logged  # httpx's own lines (with URLs) are not managed
    assert [s for s in secrets if s in logged] == []


def test_a_token_refresh_is_in_the_run_log_without_the_tokens(
    add_account: Callable[..., None],
    instance: dg.DagsterInstance,
    resource: TikTokConnectorResource,
) -> None:
    add_account("brand", "business", "brand-open-id")
    before = _stored_secrets("brand")

    result = token_refresh_job.execute_in_process(
        run_config=refresh_run_config(["brand"], force=True),
        instance=instance,
        resources={"tiktok": resource},
        raise_on_error=False,
    )

    assert result.success
    lines = _python_log_lines(instance, result.run_id)
    assert [
        level for level, message in lines if message.startswith("account brand: tokens refreshed")
    ] == [logging.INFO]
    logged = _everything_logged(instance, result.run_id)
    after = _stored_secrets("brand")
    assert after != before
    assert [s for s in [*before, *after] if s in logged] == []


def test_the_api_logger_masks_a_secret_before_any_handler_sees_it() -> None:
    secret = "business-token-without-prefix-123456"
    register_secret(secret)
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("tiktok_etl.api")
    handler = Collect()
    logger.addHandler(handler)
    try:
        logger.warning("refused header %r (Bearer act.abcdefgh12345)", secret)
    finally:
        logger.removeHandler(handler)

    assert any(isinstance(f, RedactingFilter) for f in logger.filters)
    (message,) = seen
    assert secret not in message
    assert "act.abcdefgh12345" not in message
    assert message.startswith("refused header")
