"""``dg`` sees the project root as a Dagster project, and ``tiktok-etl dev`` starts the UI
without warnings that contradict the README (run as a user runs them: subprocesses from the
project root, which holds pyproject.toml, workspace.yaml and dagster.yaml)."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tiktok_etl_tests.defs.test_definitions import ASSETS

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# what `dagster dev` prints when started the old way, and what it says about a dagster.yaml
# in the current directory when DAGSTER_HOME is elsewhere
CONTRADICTIONS = ("superseded", "Use 'dg dev'", "will not be used")


@pytest.fixture
def user_env(engine: sa.Engine, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIKTOK", "DAGSTER"))}
    env.update(
        {
            "TIKTOK_ETL_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "TIKTOK_ETL_TOKEN_KEY": Fernet.generate_key().decode(),
            "TIKTOK_ETL_HOME": str(tmp_path / "home"),
            "TIKTOK_ETL_SANDBOX": "1",
        }
    )
    return env


def _dg(env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # an empty DAGSTER_HOME: dg's own commands need no instance of the project's
    home = tmp_path / "dg_home"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [str(BIN / "dg"), *args],
        cwd=ROOT,
        env={**env, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dg_check_defs_passes_from_the_project_root(
    user_env: dict[str, str], tmp_path: Path
) -> None:
    result = _dg(user_env, tmp_path, "check", "defs")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_dg_list_defs_lists_the_assets_of_the_code_location(
    user_env: dict[str, str], tmp_path: Path
) -> None:
    result = _dg(user_env, tmp_path, "list", "defs", "--json")

    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert sorted(a["asset_key"] for a in listed["assets"]) == ASSETS
    assert all(a["owners"] == [{"team": "tiktok-etl"}] for a in listed["assets"])
    assert {j["name"] for j in listed["jobs"]} >= {"tiktok_ingest", "tiktok_token_refresh"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_until(process: subprocess.Popen[str], marker: str, limit: float) -> str:
    """Output until a line contains ``marker`` (or the process ends, or ``limit`` s pass)."""
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    lines: list[str] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not selector.select(timeout=1):
            continue
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            break
    return "".join(lines)


def _stop(process: subprocess.Popen[str]) -> str:
    """Interrupt the server's process group (it was started in its own) and collect the rest."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        rest, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        rest, _ = process.communicate()
    return rest or ""


def test_tiktok_etl_dev_starts_the_ui_without_contradicting_the_readme(
    user_env: dict[str, str], tmp_path: Path
) -> None:
    dagster_home = tmp_path / "dagster_home"
    env = {**user_env, "DAGSTER_HOME": str(dagster_home), "NO_COLOR": "1"}
    process = subprocess.Popen(
        [str(BIN / "tiktok-etl"), "dev", "--port", str(_free_port())],
        cwd=ROOT,  # beside the project's own dagster.yaml, as the README runs it
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = _read_until(process, "Serving dagster-webserver", limit=240)
    finally:
        output += _stop(process)

    assert "Serving dagster-webserver" in output, output
    assert [c for c in CONTRADICTIONS if c in output] == [], output
    # the instance it ran on is the project's, with the run-log settings of the README
    assert (dagster_home / "dagster.yaml").read_bytes() == (ROOT / "dagster.yaml").read_bytes()
