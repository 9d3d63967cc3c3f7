"""The example dbt project (``examples/dbt``) in the code location, when it can be loaded.

dagster-dbt, dbt-core and dbt-postgres come with the optional ``.[dbt]`` extra. Without it,
or without the project folder (a non-editable install ships only the package), the code
location loads exactly as before and the dbt assets are simply absent. This module imports
nothing from dbt; :mod:`tiktok_etl.defs.dbt_assets` does, and only when both are there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

PROJECT_DIR = Path(__file__).resolve().parents[2] / "examples" / "dbt"
# what the .[dbt] extra installs (dbt-postgres lives in the `dbt` namespace package)
_EXTRA_MODULES = frozenset({"dagster_dbt", "dbt"})


@dataclass(frozen=True)
class DbtExample:
    """What the example adds to the Definitions: its assets and the ``dbt`` resource."""

    assets: tuple[dg.AssetsDefinition, ...] = ()
    resources: Mapping[str, Any] = field(default_factory=dict)


def load_dbt_example(project_dir: Path = PROJECT_DIR) -> DbtExample:
    """The dbt assets of ``project_dir``, or nothing without the extra or the project."""
    if not (project_dir / "dbt_project.yml").exists():
        return DbtExample()
    try:
        from tiktok_etl.defs.dbt_assets import (
            dbt_example_assets,
            dbt_resource,
            prepare_manifest,
        )
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in _EXTRA_MODULES:
            raise  # our own bug, not a missing extra
        return DbtExample()
    project = prepare_manifest(project_dir)
    return DbtExample(
        assets=(dbt_example_assets(project),), resources={"dbt": dbt_resource(project)}
    )
