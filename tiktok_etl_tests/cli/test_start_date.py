"""Commands that take a day refuse one before TIKTOK_ETL_START_DATE, in one line."""

from __future__ import annotations

from .conftest import CliInvoke
from .test_errors import assert_user_error


def test_plan_refuses_a_backfill_that_starts_before_the_first_partition_day(
    tiktok_etl: CliInvoke,
) -> None:
    result = tiktok_etl("plan", "--days", "5", "--until", "2024-01-03")
    line = assert_user_error(result, "2023-12-30", "2024-01-01", "TIKTOK_ETL_START_DATE")
    assert line.startswith("Error: a 5-day backfill to 2024-01-03 starts too early")


def test_plan_accepts_a_backfill_from_the_first_partition_day(tiktok_etl: CliInvoke) -> None:
    result = tiktok_etl("plan", "--days", "3", "--until", "2024-01-03")
    assert result.exit_code == 0, result.output
    assert "2024-01-01 .. 2024-01-03" in result.output


def test_resync_refuses_a_since_day_before_the_first_partition_day(
    tiktok_etl: CliInvoke,
) -> None:
    result = tiktok_etl("resync", "--account", "acme", "--since", "2023-12-31")
    line = assert_user_error(result, "--since", "2023-12-31", "TIKTOK_ETL_START_DATE")
    assert "first partition day 2024-01-01" in line
