"""The models of ``examples/dbt`` as Dagster assets, downstream of ``sl_mentions``.

Imports dagster-dbt (the ``.[dbt]`` extra); :func:`tiktok_etl.defs.dbt.load_dbt_example`
imports this module only when the extra is installed.

- **Lineage.** The project's sources carry ``meta.dagster.asset_key`` (generated, see
  :mod:`tiktok_etl.defs.dbt_sources`), and :class:`TikTokDbtTranslator` maps the ``tiktok``
  sources to our asset keys in any case, so ``sl_mentions -> daily_engagement,
  open_mentions`` in the asset graph.
- **Triggering.** Each model carries :data:`MODELS_AUTOMATION`: Dagster's ``eager``
  condition without its "no upstream partition missing" clause. The models are not
  partitioned; ``sl_mentions`` has thousands of account-day partitions, most of them never
  materialized, so plain ``eager()`` would wait forever. Evaluated by the
  ``default_automation_condition_sensor``, which runs in the Dagster daemon.
- **Manifest.** dagster-dbt's ``prepare_if_dev()`` parses only under ``dagster dev`` and
  looks for ``dbt`` on ``PATH`` (absent when the venv is not activated). Instead
  :func:`prepare_manifest` runs ``dbt parse`` (offline: the project has no packages)
  whenever the manifest is missing or older than a project file, under a file lock so
  concurrent processes parse once. Then ``dagster asset materialize``, ``dg check defs``,
  run workers and ``dagster dev`` all see the current models.
"""

import fcntl
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from tiktok_etl.defs.catalog import BOTH_FAMILIES, catalog_tags, freshness_policy, owners
from tiktok_etl.defs.dbt_sources import SOURCE_NAME
from tiktok_etl.defs.resources import TikTokConnectorResource
from tiktok_etl.runtime.dbt_env import dbt_environment, dbt_executable

GROUP = "tiktok_analytics"
# any sl_mentions partition updated since the models last ran, nothing upstream or the
# models themselves in progress (see the module docstring for the missing clause)
MODELS_AUTOMATION = dg.AutomationCondition.eager().without(
    ~dg.AutomationCondition.any_deps_missing()
)
_PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
# columns that carry people's names or handles (as in sl_mentions)
PII_COLUMNS = frozenset({"author_name", "author_handle"})
_PROJECT_DIRS = ("models", "macros", "tests", "seeds", "snapshots")


class TikTokDbtTranslator(DagsterDbtTranslator):
    """Our sources are our assets; the models get their group and automation."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if (
            dbt_resource_props["resource_type"] == "source"
            and dbt_resource_props["source_name"] == SOURCE_NAME
        ):
            return dg.AssetKey(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return GROUP

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        return owners()

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        # the models read sl_mentions, which both API families feed; a model that passes
        # people's names or handles through (open_mentions carries author_name) is pii
        columns = dbt_resource_props.get("columns") or {}
        pii = bool(PII_COLUMNS & set(columns))
        return {
            **super().get_tags(dbt_resource_props),
            **catalog_tags(pii=pii, api_families=BOTH_FAMILIES),
        }

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if self.get_resource_props(manifest, unique_id)["resource_type"] != "model":
            return spec
        # rebuilt whenever sl_mentions changes (MODELS_AUTOMATION): as fresh as it is
        return spec.replace_attributes(freshness_policy=freshness_policy())

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        if dbt_resource_props["resource_type"] == "model":
            return MODELS_AUTOMATION
        return None


def _newest_project_change(project_dir: Path) -> float:
    paths = [project_dir / name for name in _PROJECT_FILES]
    for folder in _PROJECT_DIRS:
        paths.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def manifest_is_current(project: DbtProject) -> bool:
    manifest = project.manifest_path
    return manifest.exists() and manifest.stat().st_mtime >= _newest_project_change(
        project.project_dir
    )


def prepare_manifest(project_dir: Path) -> DbtProject:
    """The project, with a ``manifest.json`` no older than its files (``dbt parse`` if not)."""
    project = DbtProject(project_dir=project_dir)
    if manifest_is_current(project):
        return project
    target = project.project_dir / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".parse.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not manifest_is_current(project):  # another process may have parsed meanwhile
                dbt_resource(project).cli(
                    ["parse", "--quiet"], target_path=project.target_path
                ).wait()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return project


def dbt_resource(project: DbtProject) -> DbtCliResource:
    return DbtCliResource(project_dir=project, dbt_executable=dbt_executable() or "dbt")


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` for one dbt invocation: DbtCliResource passes the process
    environment to dbt (and reads the profile in-process), it takes no env of its own."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dbt_example_assets(project: DbtProject) -> dg.AssetsDefinition:
    """One ``dbt build`` op for the selected models (and their tests, as asset checks)."""

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name="tiktok_analytics_dbt",
        # code references: each model links to its .sql file, like our assets to their code
        dagster_dbt_translator=TikTokDbtTranslator(
            settings=DagsterDbtTranslatorSettings(enable_code_references=True)
        ),
    )
    def tiktok_analytics_dbt(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, tiktok: TikTokConnectorResource
    ) -> Iterator[Any]:
        with _environment(dbt_environment(tiktok.runtime)):
            yield from dbt.cli(["build"], context=context).stream()

    return tiktok_analytics_dbt
