"""``tiktok-etl runs recover``: free what runs killed mid-way (SIGKILL, OOM, a lost node) hold.

Wired into the main command line by ``tiktok_etl.cli``: ``main.add_command(runs)``.
The daemon does the same on its own (run monitoring); this is for instances without one.
"""

from __future__ import annotations

import click

from tiktok_etl.cli.errors import Group


@click.group(cls=Group)
def runs() -> None:
    """Dagster runs of this project: find and recover dead ones."""


@runs.command("recover")
@click.option(
    "--run-id",
    "run_ids",
    multiple=True,
    help="Also treat this run as dead (a worker on another host, or one that recorded none).",
)
def recover(run_ids: tuple[str, ...]) -> None:
    """Mark runs whose process is gone failed and free the pool slots they (or finished runs)
    hold, printing each. Runs on other hosts are left alone unless named with --run-id."""
    import dagster as dg

    from tiktok_etl.runtime import open_runtime
    from tiktok_etl.runtime.run_recovery import recover_dead_runs

    open_runtime().export_env()
    with dg.DagsterInstance.get() as instance:
        found = instance.get_run_records(dg.RunsFilter(run_ids=list(run_ids))) if run_ids else []
        unknown = set(run_ids) - {r.dagster_run.run_id for r in found}
        if unknown:
            raise click.ClickException(f"no such run: {', '.join(sorted(unknown))}")
        recovered = recover_dead_runs(instance, force_run_ids=run_ids)
    if not recovered:
        click.echo("no dead runs: every STARTED run's process is alive (or on another host)")
        return
    for run in recovered:
        action = "marked failed" if run.status == dg.DagsterRunStatus.STARTED else "was finished"
        slots = f"freed {len(run.slots)} slot(s)" if run.slots else "held no slots"
        click.echo(f"{run.run_id} ({run.job_name}, {run.worker}): {action}, {slots}")
