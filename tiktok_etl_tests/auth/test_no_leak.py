"""No token, secret or authorization code anywhere: the whole token lifecycle (login, sensor,
refresh runs with a success and a re-authorization failure, a materialization across token
lifetimes, revocation) with DEBUG logging, file-descriptor capture and the Dagster event log
of every run scanned for them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from tiktok_etl.cli.auth import accounts_revoke
from tiktok_etl.defs.assets import RAW_ASSETS
from tiktok_etl.defs.tokens import refresh_run_config, tiktok_token_refresh_sensor
from tiktok_etl.defs.tokens import token_refresh_job as job
from tiktok_etl.sandbox import SandboxServer

from .helpers import (
    CLIENT_SECRET,
    SECRET_PATTERN,
    Env,
    Output,
    add_account,
    consent,
    deliver,
    make_runtime,
    printed_url,
    run_cli,
    start_login,
)


def test_nothing_secret_reaches_logs_output_or_the_event_log(
    serve: Callable[..., SandboxServer],
    cli_env: Env,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    browser = threading.get_ident()  # this thread plays the browser: its URLs carry the code
    server = serve(access_token_ttl=7200)
    runtime = make_runtime(cli_env.point_at(server).variables())
    output = Output(capfd)
    codes: list[str] = []

    # onboarding
    login = start_login(["--api", "business", "--key", "biz"])
    location = consent(printed_url(output), sandbox_open_id="open-biz")
    codes += parse_qs(urlsplit(location).query)["code"]
    deliver(location)
    assert login.result()["error"] is None

    # an account whose refresh token TikTok will refuse, and one due for refresh
    add_account(runtime, "dead", server.app.issue_tokens("open-dead"))
    server.app.revoke_refresh("open-dead", "display")
    issued = datetime.now(UTC) - timedelta(hours=2)
    add_account(runtime, "due", server.app.issue_tokens("open-due"), issued_at=issued)
    seen_tokens = {t.access_token for t in map(runtime.tokens.load, ("biz", "dead", "due")) if t}
    seen_tokens |= {t.refresh_token for t in map(runtime.tokens.load, ("biz", "dead", "due")) if t}

    run_ids: list[str] = []
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("tiktok_accounts", ["biz", "dead", "due"])
        resources = {"tiktok": cli_env.resource()}
        with dg.build_sensor_context(resources=resources, instance=instance) as context:
            tick = tiktok_token_refresh_sensor(context)
        assert isinstance(tick, dg.SensorResult)
        refresh = job.execute_in_process(
            run_config=refresh_run_config(["due", "dead"], force=True),
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        assert not refresh.success  # "dead" needs re-authorization
        run_ids.append(refresh.run_id)
        # TikTok rejects the stored access tokens: refreshed and retried mid-run
        day = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
        for key in ("due", "biz"):
            stored = runtime.tokens.load(key)
            assert stored is not None
            seen_tokens |= {stored.access_token, stored.refresh_token or stored.access_token}
            runtime.tokens.save(key, replace(stored, access_token="act.sbx.rejected.x"))
            materialized = dg.materialize(
                RAW_ASSETS, partition_key=f"{key}|{day}", resources=resources, instance=instance
            )
            assert materialized.success
            run_ids.append(materialized.run_id)
            assert runtime.tokens.load(key).version > stored.version  # type: ignore[union-attr]
        event_log = "\n".join(
            serialize_value(entry) for run_id in run_ids for entry in instance.all_logs(run_id)
        )

    assert run_cli(accounts_revoke, ["due", "--yes"]) is None
    for key in ("biz", "due"):
        seen_tokens |= {t.access_token for t in [runtime.tokens.load(key)] if t}

    printed = output.read()
    logs = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not (r.thread == browser and r.name.startswith(("httpx", "httpcore")))
    )
    assert "tiktok_etl.api" in logs and "oauth" in logs  # DEBUG records of the token calls
    assert "tokens rotated" in event_log
    assert "needs re-authorization" in event_log
    secrets = [CLIENT_SECRET, cli_env.token_key, *codes, *seen_tokens]
    for where, text in (("output", printed), ("logs", logs), ("event log", event_log)):
        match = SECRET_PATTERN.search(text)
        assert match is None, f"{where}: {match.group(0)[:12]}..."
        for secret in secrets:
            assert secret not in text, f"{where} shows a secret"
