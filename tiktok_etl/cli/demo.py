"""``tiktok-etl demo``: the whole product on the embedded default, with no credentials.

Registers sandbox accounts of both API families (tokens issued by the simulated TikTok),
materializes the last days of every raw asset through real Dagster runs recorded in the
instance (so ``tiktok-etl dev`` shows them), and prints what landed. Dagster and rich are
imported when the demo runs, so that loading the command line stays quick.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
import sqlalchemy as sa

from tiktok_etl.auth.model import TokenSet
from tiktok_etl.cli.errors import Command
from tiktok_etl.runtime import Runtime, open_runtime
from tiktok_etl.runtime.registration import register_account
from tiktok_etl.settings import Settings
from tiktok_etl.storage.accounts import ApiFamily

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class DemoAccount:
    key: str
    api: ApiFamily
    open_id: str
    keywords: tuple[str, ...]


DEMO_ACCOUNTS = (
    DemoAccount("demo_creator", "display", "sbx-creator-0001", ("acme",)),
    DemoAccount("demo_brand", "business", "sbx-brand-0001", ("acme", "launch")),
    DemoAccount("demo_shop", "business", "sbx-shop-0001", ("sale",)),
)
SUMMARY_TABLES = (
    "tiktok_users",
    "tiktok_videos",
    "tiktok_comments",
    "sl_mentions",
    # today's snapshot of every tracked video; the account's daily metrics (Business: ~60
    # days back-filled on the first run, of which the window's days are counted)
    "tiktok_video_metrics",
    "tiktok_account_metrics",
)
_LIVE = {"sl_mentions": "AND deleted_at IS NULL"}
# the progress bar is the demo's output; step logs stay in the instance (and the UI)
_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# the in-process sandbox enforces no limit; TikTok's 600/min would only slow the demo down
_SANDBOX_RATE_LIMIT = "60000"


def _ensure_accounts(runtime: Runtime, console: Console) -> None:
    from tiktok_etl.sandbox import issue_tokens  # the demo is the sandbox's own use

    for demo in DEMO_ACCOUNTS:
        if runtime.accounts.exists(demo.key):
            continue
        body = issue_tokens(demo.open_id, demo.api)
        tokens = TokenSet.from_response(body, datetime.now(UTC))
        register_account(
            account_key=demo.key,
            api=demo.api,
            tokens=tokens,
            keywords=demo.keywords,
            runtime=runtime,
        )
        console.print(f"registered sandbox account [bold]{demo.key}[/] ({demo.api})")


DEMO_MARKER = "DEMO_HOME"
# the first day the demo materialized: its partitions start there, so its UI shows its days
DEMO_START_FILE = "DEMO_START_DATE"
START_DATE_VAR = "TIKTOK_ETL_START_DATE"


def prepare_demo_environment(env: MutableMapping[str, str], home: Path | None = None) -> None:
    """The demo always talks to the in-process simulated TikTok; in a demo home, its
    partitions start on the demo's first day (unless TIKTOK_ETL_START_DATE says otherwise)."""
    env["TIKTOK_ETL_SANDBOX"] = "1"
    for name in ("TIKTOK_API_BASE_URL", "TIKTOK_BUSINESS_API_BASE_URL"):
        env.pop(name, None)
    env.setdefault("TIKTOK_ETL_RATE_LIMIT_PER_MINUTE", _SANDBOX_RATE_LIMIT)
    if home is not None and (home / DEMO_START_FILE).is_file():
        env.setdefault(START_DATE_VAR, (home / DEMO_START_FILE).read_text().strip())


def record_demo_start(home: Path, first_day: date) -> date:
    """Remember the earliest day a demo in this home materialized; returns it."""
    path = home / DEMO_START_FILE
    if path.is_file():
        first_day = min(first_day, date.fromisoformat(path.read_text().strip()))
    path.write_text(first_day.isoformat() + "\n")
    return first_day


def is_demo_home(settings: Settings) -> bool:
    """Whether the demo populated this home (its accounts only work against the sandbox)."""
    return (settings.home / DEMO_MARKER).exists()


def demo_days(today: date, days: int) -> list[date]:
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


@click.command(cls=Command)
@click.option("--days", default=7, show_default=True, help="Days to materialize, ending today.")
def demo(days: int) -> None:
    """Embedded PostgreSQL + the simulated TikTok: register accounts, materialize, summarize."""
    prepare_demo_environment(os.environ)
    run_demo(Settings.from_env(), days=days)


def run_demo(settings: Settings, days: int = 7, console: Console | None = None) -> dict:
    import dagster as dg
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = console or Console()
    today = datetime.now(UTC).date()
    settings.home.mkdir(parents=True, exist_ok=True)
    first_day = record_demo_start(settings.home, demo_days(today, days)[0])
    # before the definitions load: they read the partitions' first day then
    os.environ.setdefault(START_DATE_VAR, first_day.isoformat())

    from tiktok_etl.definitions import defs
    from tiktok_etl.defs.partitions import AccountDay

    runtime = open_runtime(settings)
    runtime.export_env()
    console.print(
        f"warehouse: PostgreSQL ({'configured' if settings.database_url else 'embedded'})"
    )
    console.print(f"parquet:   {settings.parquet_root}")
    _ensure_accounts(runtime, console)
    (settings.home / DEMO_MARKER).write_text(
        "Populated by `tiktok-etl demo`: its accounts live in the simulated TikTok, so "
        "`tiktok-etl dev` runs against the sandbox here.\n"
    )

    job = defs.resolve_job_def("tiktok_ingest")
    partitions = [
        AccountDay(demo.key, day.isoformat())
        for demo in DEMO_ACCOUNTS
        for day in demo_days(today, days)
    ]
    failures: list[str] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with dg.DagsterInstance.get() as instance, Progress(*columns, console=console) as progress:
        task = progress.add_task("materializing", total=len(partitions))
        for ad in partitions:
            progress.update(task, description=f"{ad.account_key}|{ad.day}")
            result = job.execute_in_process(
                partition_key=ad.partition_key,
                instance=instance,
                raise_on_error=False,
                run_config=_QUIET,
            )
            if not result.success:
                failures.append(f"{ad.account_key}|{ad.day}")
            progress.advance(task)
    summary = summarize(runtime.engine, [d.key for d in DEMO_ACCOUNTS], days)
    _print_summary(console, summary, days)
    if failures:
        console.print(f"[red]{len(failures)} partitions failed:[/] {', '.join(failures)}")
        raise SystemExit(1)
    console.print("done. Browse it: [bold]tiktok-etl dev[/] (http://127.0.0.1:3000)")
    return summary


def summarize(engine: sa.Engine, account_keys: list[str], days: int) -> dict:
    """Rows and rejects per table and account over the last ``days`` days."""
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    summary: dict[str, dict[str, dict[str, int]]] = {}
    with engine.connect() as conn:
        for table in SUMMARY_TABLES:
            counts: dict[str, int] = dict(
                conn.execute(
                    sa.text(
                        f"SELECT account_key, count(*) FROM {table} WHERE account_key = ANY(:keys) "
                        f"AND date >= :since {_LIVE.get(table, '')} GROUP BY account_key"
                    ),
                    {"keys": account_keys, "since": since},
                ).all()
            )
            rejects: dict[str, int] = dict(
                conn.execute(
                    sa.text(
                        "SELECT account_key, count(*) FROM tiktok_rejects WHERE table_name = :t "
                        "AND account_key = ANY(:keys) AND date >= :since GROUP BY account_key"
                    ),
                    {"t": table, "keys": account_keys, "since": since},
                ).all()
            )
            summary[table] = {
                key: {"rows": int(counts.get(key, 0)), "rejects": int(rejects.get(key, 0))}
                for key in account_keys
            }
    return summary


def _print_summary(console: Console, summary: dict, days: int) -> None:
    from rich.table import Table

    table = Table(title=f"rows landed, last {days} days (PostgreSQL and Parquet)")
    table.add_column("asset")
    table.add_column("account")
    table.add_column("rows", justify="right")
    table.add_column("rejected", justify="right")
    for asset, per_account in summary.items():
        for account, counts in per_account.items():
            table.add_row(asset, account, str(counts["rows"]), str(counts["rejects"]))
    console.print(table)
