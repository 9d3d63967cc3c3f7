"""Catalog metadata every asset declares at definition time, derived from the one schema.

A never-materialized deployment already shows, for each asset: its column schema (name,
type, nullability and description of every column, from the table's :class:`TableSpec`),
its fully qualified table name, its owners (``TIKTOK_ETL_OWNERS``), its tags (``pii``, the
TikTok API families it reads) and, once :func:`with_code_references` has wrapped the
definitions, a link to its source. A new asset gets all of it by passing
:func:`asset_catalog`'s keywords to ``dg.asset`` / ``dg.AssetSpec``.

This module only builds Dagster values; it reads no database and calls no API.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, Literal, TypeVar

import dagster as dg

from tiktok_etl.settings import Settings
from tiktok_etl.storage.tables import Column, TableSpec, qualified_name

ApiFamily = Literal["display", "business", "research"]
BOTH_FAMILIES: tuple[ApiFamily, ...] = ("display", "business")

# tag keys: a filter in the UI's asset catalog (`tag:pii`, `tag:tiktok/business_api`)
PII_TAG = "pii"
API_TAG = "tiktok/{family}_api"

# The freshness daemon (`dagster-daemon`, started by `dg dev` / `tiktok-etl dev`) compares the
# asset's newest materialization with this window: the 30-minute schedule refreshes today's
# partitions, so none in an hour means today's data is stale.
TODAY_FAIL_WINDOW = timedelta(hours=1)
TODAY_WARN_WINDOW = timedelta(minutes=45)

# with_source_code_references is "beta" in Dagster 1.13; the references it adds are plain
# metadata the UI renders, nothing else depends on them
warnings.filterwarnings(
    "ignore",
    category=dg.BetaWarning,
    message=".*(with_source_code_references|CodeReferencesMetadataValue|LocalFileCodeReference)",
)


def qualified_table_name(table: str, settings: Settings | None = None) -> str:
    """``<schema>.<table>``: where a warehouse user finds the asset's rows. The one place
    schema is ``TIKTOK_ETL_PG_SCHEMA`` (:func:`tiktok_etl.storage.tables.qualified_name`)."""
    return qualified_name(table, settings or Settings.from_env())


def column_schema(columns: Iterable[Column]) -> dg.TableSchema:
    """The Dagster column schema of ``columns``: type, nullability and description each."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name,
                c.pg_type,
                description=c.description,
                constraints=dg.TableColumnConstraints(nullable=c.nullable),
            )
            for c in columns
        ]
    )


def owners(settings: Settings | None = None) -> list[str]:
    """``TIKTOK_ETL_OWNERS`` as a list (validated by :class:`Settings`)."""
    return (settings or Settings.from_env()).owners.split(",")


def catalog_tags(*, pii: bool, api_families: Sequence[ApiFamily]) -> dict[str, str]:
    """``pii`` on assets carrying people's names or handles, one tag per API family read."""
    tags = {API_TAG.format(family=family): "" for family in api_families}
    if pii:
        tags[PII_TAG] = ""
    return tags


# the listening schedule reads yesterday once a day (00:30 UTC): a day and a bit
DAILY_FAIL_WINDOW = timedelta(hours=26)
DAILY_WARN_WINDOW = timedelta(hours=25)


def freshness_policy(*, daily: bool = False) -> dg.FreshnessPolicy:
    """The freshness the schedules promise: :data:`TODAY_FAIL_WINDOW` for the 30-minute
    schedule's assets, :data:`DAILY_FAIL_WINDOW` for a once-a-day asset (``daily``)."""
    if daily:
        return dg.FreshnessPolicy.time_window(
            fail_window=DAILY_FAIL_WINDOW, warn_window=DAILY_WARN_WINDOW
        )
    return dg.FreshnessPolicy.time_window(
        fail_window=TODAY_FAIL_WINDOW, warn_window=TODAY_WARN_WINDOW
    )


def asset_catalog(
    table: str,
    columns: Iterable[Column],
    *,
    pii: bool,
    api_families: Sequence[ApiFamily] = BOTH_FAMILIES,
    fresh: bool = True,
    daily: bool = False,
    spec: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The keywords an asset passes to ``dg.asset`` (or ``dg.AssetSpec``) for its catalog
    entry: metadata (column schema, table name), owners, tags and freshness policy.
    ``fresh=False`` for an asset that is observed, never materialized (the freshness
    evaluator reads materializations only). ``spec=True`` for a ``dg.AssetSpec``: it has no
    function for :func:`with_code_references` to point at, so the caller's line is used."""
    settings = settings or Settings.from_env()
    metadata: dict[str, Any] = {
        "dagster/column_schema": column_schema(columns),
        "dagster/table_name": qualified_table_name(table, settings),
    }
    if spec:
        caller = inspect.stack(context=0)[1]
        metadata["dagster/code_references"] = dg.CodeReferencesMetadataValue(
            code_references=[
                dg.LocalFileCodeReference(file_path=caller.filename, line_number=caller.lineno)
            ]
        )
    entry: dict[str, Any] = {
        "metadata": metadata,
        "owners": owners(settings),
        "tags": catalog_tags(pii=pii, api_families=api_families),
    }
    if fresh:
        entry["freshness_policy"] = freshness_policy(daily=daily)
    return entry


def table_catalog(
    spec: TableSpec,
    *,
    pii: bool,
    api_families: Sequence[ApiFamily] = BOTH_FAMILIES,
    daily: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """:func:`asset_catalog` for an asset that is one table of the schema."""
    return asset_catalog(
        spec.name,
        spec.columns,
        pii=pii,
        api_families=api_families,
        daily=daily,
        settings=settings,
    )


Definition = TypeVar("Definition", dg.AssetsDefinition, dg.AssetSpec)


def with_code_references(definitions: Sequence[Definition]) -> list[Definition]:
    """``definitions`` with the file and line of their code in their metadata. Local paths
    only: a git link needs the repository's URL and branch, which a clone does not know
    offline."""
    return list(dg.with_source_code_references(list(definitions)))  # type: ignore[arg-type]
