"""``tiktok-etl plan``: its output, and its estimate against the requests a real run makes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import dagster as dg

from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.sandbox import SandboxApp
from tiktok_etl_tests.defs.conftest import (  # noqa: F401 (fixtures)
    add_account,
    cli,
    instance,
    materialize,
    project_env,
    resource,
    sandbox_app,
    sandbox_clock,
    served,
)

from .conftest import CliInvoke

DAYS = ["2026-11-08", "2026-11-09", "2026-11-10"]  # the sandbox's NOW is 2026-11-10
ROW = re.compile(r"^(\S+/)\s+([\d,]+)\s+([\d.]+)$")
# a re-run of stored days is estimated from their stored video counts; what the plan cannot
# see is the double's short pages (20% of pages hold fewer videos while has_more stays true)
TOLERANCE = 0.25


def planned(output: str) -> dict[str, int]:
    """Requests per endpoint from the printed table."""
    rows = (ROW.match(line) for line in output.splitlines())
    return {m[1]: int(m[2].replace(",", "")) for m in rows if m}


def test_plan_prints_endpoints_hours_and_the_binding_endpoint(tiktok_etl: CliInvoke) -> None:
    result = tiktok_etl(
        "plan", "--days", "365", "--assume-accounts", "1000", "--until", "2026-11-10",
        TIKTOK_ETL_RATE_LIMIT_PER_MINUTE="600",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2025-11-11 .. 2026-11-10"
    assert lines[1].startswith("backfill of 365 day(s): 0 account(s) from what is stored, 1000")
    assert "sandbox defaults" in lines[1]
    assert lines[2] == "rate limit: 600 requests per endpoint per minute"
    requests = planned(result.output)
    assert set(requests) == {
        "business/get/",
        "business/video/list/",
        "business/comment/list/",
        "business/comment/reply/list/",
    }
    assert requests["business/get/"] == 365 * 1000  # one profile call per partition
    binding = max(requests, key=lambda endpoint: requests[endpoint])
    hours = requests[binding] / 600 / 60
    assert lines[-1] == (
        f"binding endpoint: {binding} ({requests[binding]:,} requests, {hours:.2f} h at 600/min)"
    )


def test_plan_names_an_unknown_account(tiktok_etl: CliInvoke) -> None:
    result = tiktok_etl("plan", "--days", "3", "--account", "nobody")

    assert result.exit_code == 2
    assert "no such account: nobody" in result.output


def test_plan_for_a_rerun_matches_the_requests_the_double_counts(
    add_account: Callable[..., None],  # noqa: F811
    instance: dg.DagsterInstance,  # noqa: F811
    resource: TikTokConnectorResource,  # noqa: F811
    sandbox_app: SandboxApp,  # noqa: F811
    cli: Callable[..., Any],  # noqa: F811
) -> None:
    add_account("brand", "business", "brand-open-id")
    add_account("creator", "display", "creator-open-id")
    for key in ("brand", "creator"):
        for day in DAYS:
            assert materialize(instance, resource, key, day).success

    output = cli(
        "plan", "--days", "3", "--until", DAYS[-1], "--partitions-per-run", "1"
    ).output  # fmt: skip
    estimate = planned(output)
    before = sandbox_app.stats.snapshot()["requests"]
    for key in ("brand", "creator"):
        for day in DAYS:
            assert materialize(instance, resource, key, day).success
    after = sandbox_app.stats.snapshot()["requests"]

    counted = {
        endpoint: sum(
            n - before.get(path, 0) for path, n in after.items() if path.endswith(endpoint)
        )
        for endpoint in estimate
    }
    print(output, counted)
    assert "2 account(s) from what is stored, 0 estimated" in output
    # exact where the plan knows everything: a profile call per partition, no comment read
    for endpoint in ("/v2/user/info/", "business/get/"):
        assert estimate[endpoint] == counted[endpoint] == len(DAYS)
    assert estimate["business/comment/list/"] == counted["business/comment/list/"] == 0
    assert estimate["business/comment/reply/list/"] == counted["business/comment/reply/list/"] == 0
    for endpoint in ("/v2/video/list/", "business/video/list/"):
        assert abs(estimate[endpoint] - counted[endpoint]) <= TOLERANCE * counted[endpoint]
