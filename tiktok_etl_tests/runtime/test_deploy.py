"""deploy/: the Kubernetes instance loads, points at our storage, and refuses local-only state.

Kubernetes itself is not here (nor a Docker engine): the launcher is built with its cluster
credentials stubbed, and the Dockerfile is checked by reading it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import dagster_k8s.launcher
import pytest
import sqlalchemy as sa
from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
from dagster_k8s import K8sRunLauncher

from tiktok_etl.runtime.run_recovery import POOL
from tiktok_etl.runtime.run_watch import WatchedEventLogStorage
from tiktok_etl.settings import ConfigError
from tiktok_etl.storage.db import to_psycopg2_url, with_search_path

from .conftest import TOKEN_KEY

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PACKAGED = ROOT / "tiktok_etl" / "runtime" / "dagster_instance.yaml"


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    # in a pod the launcher reads the service account; building API clients connects nowhere
    monkeypatch.setattr(dagster_k8s.launcher, "load_kubernetes_config", lambda **_: None)


@pytest.fixture
def distributed_env(engine: sa.Engine, tmp_path: Path) -> dict[str, str]:
    """The documented distributed configuration: everything shared, nothing on this machine."""
    return {
        "TIKTOK_ETL_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "TIKTOK_ETL_TOKEN_KEY": TOKEN_KEY,
        "TIKTOK_ETL_PARQUET_ROOT": "s3://tiktok-lake/tiktok",
        "TIKTOK_ETL_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }


@pytest.fixture
def open_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., dg.DagsterInstance]]:
    """Open the instance of a dagster.yaml (text) under an environment, as a pod would."""
    opened: list[dg.DagsterInstance] = []

    def open_(yaml_text: str, env: dict[str, str]) -> dg.DagsterInstance:
        for name in [n for n in os.environ if n.startswith("TIKTOK_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        home = Path(env["DAGSTER_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(yaml_text)
        instance = dg.DagsterInstance.get()
        opened.append(instance)
        return instance

    yield open_
    for instance in opened:
        instance.dispose()


def _deploy_yaml() -> str:
    return (DEPLOY / "dagster.yaml").read_text()


def _nothing_local(env: dict[str, str]) -> bool:
    home = Path(env["TIKTOK_ETL_HOME"])
    return not home.exists() or not any(home.iterdir())


def test_the_kubernetes_instance_launches_pods_and_keeps_everything_in_our_postgres(
    open_instance: Callable[..., dg.DagsterInstance],
    distributed_env: dict[str, str],
    engine: sa.Engine,
) -> None:
    instance = open_instance(_deploy_yaml(), distributed_env)
    launcher = instance.run_launcher
    assert isinstance(launcher, K8sRunLauncher)
    assert launcher.instance_config_map == "tiktok-etl-dagster-instance"
    assert launcher.dagster_home == "/opt/dagster/dagster_home"
    assert launcher.env_secrets == ["tiktok-etl-secrets"]
    assert launcher.supports_check_run_worker_health  # run monitoring sees dead pods
    assert instance.run_monitoring_enabled
    assert isinstance(instance.compute_log_manager, NoOpComputeLogManager)

    storage = instance.event_log_storage
    assert isinstance(storage, WatchedEventLogStorage)
    data_url = to_psycopg2_url(distributed_env["TIKTOK_ETL_DATABASE_URL"])
    assert storage.postgres_url == with_search_path(data_url, "dagster")
    assert storage.initialize_concurrency_limit_to_default(POOL)
    with engine.connect() as conn:
        slots = conn.execute(
            sa.text("SELECT count(*) FROM dagster.concurrency_slots WHERE concurrency_key = :k"),
            {"k": POOL},
        ).scalar_one()
    assert slots == 16  # deploy/dagster.yaml: concurrency.pools.default_limit
    assert _nothing_local(distributed_env)


def test_the_kubernetes_instance_names_the_project_storage_like_the_packaged_one() -> None:
    import yaml

    deployed, packaged = yaml.safe_load(_deploy_yaml()), yaml.safe_load(PACKAGED.read_text())
    assert deployed["storage"]["custom"]["class"] == packaged["storage"]["custom"]["class"]
    assert deployed["storage"]["custom"]["config"] == {"deployment": "distributed"}


@pytest.mark.parametrize(
    ("unset", "replacement", "named"),
    [
        ("TIKTOK_ETL_DATABASE_URL", None, "TIKTOK_ETL_DATABASE_URL"),
        ("TIKTOK_ETL_TOKEN_KEY", None, "TIKTOK_ETL_TOKEN_KEY"),
        ("TIKTOK_ETL_PARQUET_ROOT", None, "TIKTOK_ETL_PARQUET_ROOT"),
        ("TIKTOK_ETL_PARQUET_ROOT", "/var/lib/tiktok/parquet", "TIKTOK_ETL_PARQUET_ROOT"),
    ],
    ids=["embedded-database", "generated-key", "default-parquet", "local-parquet"],
)
def test_a_distributed_instance_refuses_to_start_with_state_on_one_machine(
    open_instance: Callable[..., dg.DagsterInstance],
    distributed_env: dict[str, str],
    unset: str,
    replacement: str | None,
    named: str,
) -> None:
    env = dict(distributed_env)
    del env[unset]
    if replacement is not None:
        env[unset] = replacement
    with pytest.raises(ConfigError) as raised:
        open_instance(_deploy_yaml(), env)
    message = str(raised.value)
    assert named in message and "\n" not in message
    assert "deployment: distributed" in message
    assert _nothing_local(env)  # refused before starting an embedded server or writing a key


def test_a_shared_volume_counts_as_shared_parquet(
    open_instance: Callable[..., dg.DagsterInstance], distributed_env: dict[str, str]
) -> None:
    env = {**distributed_env, "TIKTOK_ETL_PARQUET_ROOT": "file:///mnt/tiktok-lake"}
    assert isinstance(open_instance(_deploy_yaml(), env).run_launcher, K8sRunLauncher)


@dg.asset
def _probe() -> None:
    return None


def test_a_launcher_that_runs_elsewhere_refuses_local_state_even_without_the_flag(
    open_instance: Callable[..., dg.DagsterInstance], distributed_env: dict[str, str]
) -> None:
    # a hand-written dagster.yaml: the K8s launcher, the storage without `deployment:`
    yaml_text = _deploy_yaml().replace("config:\n      deployment: distributed", "config: {}")
    env = {k: v for k, v in distributed_env.items() if k != "TIKTOK_ETL_TOKEN_KEY"}
    instance = open_instance(yaml_text, env)
    with pytest.raises(ConfigError, match=r"K8sRunLauncher starts runs on other machines.*KEY"):
        dg.materialize([_probe], instance=instance)


def test_the_local_default_keeps_its_local_state(
    open_instance: Callable[..., dg.DagsterInstance], distributed_env: dict[str, str]
) -> None:
    env = {k: v for k, v in distributed_env.items() if k != "TIKTOK_ETL_TOKEN_KEY"}
    env["TIKTOK_ETL_PARQUET_ROOT"] = env["TIKTOK_ETL_HOME"] + "/parquet"
    instance = open_instance(PACKAGED.read_text(), env)
    assert dg.materialize([_probe], instance=instance).success


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in joined]


def test_the_user_code_image_is_slim_unprivileged_secret_free_and_serves_grpc() -> None:
    instructions = _instructions(DEPLOY / "Dockerfile")
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1] not in {"root", "0"} and not users[-1].startswith("0:")
    runs = " ".join(args for op, args in instructions if op == "RUN")
    assert "pip install ." in runs and "dagster-k8s" in runs
    for op, args in instructions:
        if op in {"ENV", "ARG"}:
            for word in args.replace("=", " ").split():
                assert not any(s in word.upper() for s in ("SECRET", "TOKEN", "KEY", "PASSWORD"))
        if op in {"COPY", "ADD"}:
            assert ".tiktok_etl" not in args and ".key" not in args
    # the run launcher passes `dagster api execute_run ...` as the container's arguments
    assert "ENTRYPOINT" not in {op for op, _ in instructions}
    (cmd,) = [json.loads(args) for op, args in instructions if op == "CMD"]
    assert cmd[:3] == ["dagster", "api", "grpc"]
    assert cmd[cmd.index("--module-name") + 1] == "tiktok_etl.definitions"


def test_the_deploy_readme_tells_how_to_build_and_what_to_configure() -> None:
    text = (DEPLOY / "README.md").read_text()
    for needed in ("docker build -f deploy/Dockerfile", "TIKTOK_ETL_TOKEN_KEY", "s3://"):
        assert needed in text
