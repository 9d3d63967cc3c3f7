"""Helpers shared by the benchmark scripts: a private PostgreSQL, machine facts, results.

Benchmarks are not tests: they run on demand (`benchmarks/ingest.py`, `benchmarks/load.py`),
never in CI, and every figure they print that is meant to be compared is a ratio of two
measurements taken in the same run on the same machine.
"""

from __future__ import annotations

import cProfile
import json
import os
import platform
import pstats
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from tiktok_etl.storage.db import normalize_url, to_libpq_url
from tiktok_etl.storage.embedded import EmbeddedPostgres

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_PACKAGES = ("tiktok_etl", "dagster", "httpx", "psycopg", "pyarrow", "sqlalchemy", "dlt")


@contextmanager
def private_postgres(parent: str | None = None) -> Iterator[str]:
    """A new embedded PostgreSQL server in a temporary directory (default durability
    settings); yields its psycopg 3 SQLAlchemy URL and deletes everything on exit."""
    home = Path(tempfile.mkdtemp(prefix="tiktok_etl_bench_pg_", dir=parent))
    server = EmbeddedPostgres(home)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def create_database(server_url: str, prefix: str) -> str:
    """A new empty database on the server; returns its psycopg 3 SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(to_libpq_url(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(normalize_url(server_url)).set(database=name).render_as_string(False)


def postgres_version(url: str) -> str:
    with psycopg.connect(to_libpq_url(url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info(pg_url: str | None = None) -> dict[str, Any]:
    """What the numbers were measured on (include it with every committed result)."""
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in _PACKAGES if _version(name)},
    }
    if pg_url is not None:
        info["postgresql"] = postgres_version(pg_url)
    return info


def save_results(name: str, payload: dict[str, Any], path: str | None = None) -> Path:
    """Write the results as JSON (default `benchmarks/results/<name>.json`)."""
    target = Path(path) if path else RESULTS_DIR / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    stamped = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), **payload}
    target.write_text(json.dumps(stamped, indent=2, default=str) + "\n")
    return target


@contextmanager
def profiled(path: str | None) -> Iterator[None]:
    """cProfile this thread and every thread started inside (the comment readers run in a
    pool), merged into one stats file; nothing when `path` is None.
    Read it with `python -m pstats PATH` (`sort cumtime`, `stats 30`)."""
    if path is None:
        yield
        return
    profiles: list[cProfile.Profile] = []

    def start_in_thread(*_: object) -> None:
        sys.setprofile(None)
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()

    main = cProfile.Profile()
    threading.setprofile(start_in_thread)
    main.enable()
    try:
        yield
    finally:
        main.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        stats = pstats.Stats(main)
        for profile in profiles:
            stats.add(profile)
        stats.dump_stats(path)


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """A plain-text table, Markdown-compatible so it can be pasted into BENCHMARKS.md."""
    cells = [header, *[tuple(_cell(v) for v in row) for row in rows]]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    print(f"\n{title}\n")

    def line(row: tuple[Any, ...]) -> str:
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) + " |"

    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
