"""The daily partitions start at TIKTOK_ETL_START_DATE, a fixed day read when definitions load."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tiktok_etl.cli.demo import DEMO_START_FILE, prepare_demo_environment, record_demo_start
from tiktok_etl.defs.partitions import (
    START_DATE,
    DayBeforeStart,
    account_day_partitions,
    daily_partitions,
    from_start,
    require_from_start,
    start_date_from_env,
)
from tiktok_etl.settings import ConfigError, Settings

_FIRST_KEYS = (
    "from tiktok_etl.definitions import defs\n"
    "from tiktok_etl.defs.partitions import account_day_partitions, daily_partitions\n"
    "print(daily_partitions.get_first_partition_key())\n"
    "date_dim = account_day_partitions.get_partitions_def_for_dimension('date')\n"
    "print(date_dim.get_first_partition_key())\n"
)


def _load(start: str | None) -> subprocess.CompletedProcess[str]:
    """Load the definitions in a new process, as Dagster does, with ``start`` exported."""
    env = {k: v for k, v in os.environ.items() if k != "TIKTOK_ETL_START_DATE"}
    if start is not None:
        env["TIKTOK_ETL_START_DATE"] = start
    return subprocess.run(
        [sys.executable, "-c", _FIRST_KEYS], env=env, capture_output=True, text=True, check=False
    )


def test_the_partitions_start_at_the_configured_date() -> None:
    loaded = _load("2026-10-01")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["2026-10-01", "2026-10-01"]


def test_an_invalid_start_date_stops_the_definitions_naming_the_variable() -> None:
    loaded = _load("2026-13-01")
    assert loaded.returncode != 0
    assert loaded.stderr.strip().splitlines()[-1] == (
        "tiktok_etl.settings.ConfigError: TIKTOK_ETL_START_DATE must be an ISO date "
        "(YYYY-MM-DD); got '2026-13-01'"
    )


def test_the_default_start_is_a_fixed_day() -> None:
    assert Settings.default_of("start_date") == date(2024, 1, 1)
    loaded = _load(None)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["2024-01-01", "2024-01-01"]


def test_this_process_partitions_follow_its_setting() -> None:
    first = daily_partitions.get_first_partition_key()
    assert first == START_DATE.isoformat() == start_date_from_env().isoformat()
    dim = account_day_partitions.get_partitions_def_for_dimension("date")
    assert dim.get_first_partition_key() == first


@pytest.mark.parametrize("value", ["2026/10/01", "20261001", "yesterday", "2026-02-30"])
def test_a_start_date_must_be_an_iso_day(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^TIKTOK_ETL_START_DATE must be an ISO date"):
        Settings.from_env({"TIKTOK_ETL_START_DATE": value})


def test_a_day_before_the_start_is_refused_with_the_fix() -> None:
    start = date(2026, 10, 1)
    assert require_from_start(start, "--since", start) == start
    with pytest.raises(DayBeforeStart) as refused:
        require_from_start(date(2026, 9, 30), "--since", start)
    assert str(refused.value) == (
        "--since: 2026-09-30 is before the first partition day 2026-10-01; ask for days from "
        "2026-10-01 on, or set TIKTOK_ETL_START_DATE earlier"
    )


def test_schedules_keep_only_partition_days() -> None:
    days = [date(2026, 10, 2), date(2026, 10, 1), date(2026, 9, 30)]
    assert from_start(days, date(2026, 10, 1)) == [date(2026, 10, 2), date(2026, 10, 1)]


def test_the_demo_home_starts_its_partitions_at_its_first_day(tmp_path: Path) -> None:
    assert record_demo_start(tmp_path, date(2026, 11, 4)) == date(2026, 11, 4)
    # a later demo keeps the earliest day: partitions it made before stay in the set
    assert record_demo_start(tmp_path, date(2026, 11, 6)) == date(2026, 11, 4)
    assert (tmp_path / DEMO_START_FILE).read_text() == "2026-11-04\n"
    env: dict[str, str] = {}
    prepare_demo_environment(env, tmp_path)
    assert env["TIKTOK_ETL_START_DATE"] == "2026-11-04"
    configured = {"TIKTOK_ETL_START_DATE": "2025-01-01"}
    prepare_demo_environment(configured, tmp_path)
    assert configured["TIKTOK_ETL_START_DATE"] == "2025-01-01"
