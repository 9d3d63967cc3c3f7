"""Load benchmark: M mentions normalized and written to PostgreSQL and Parquet.

The project's path is the one the `sl_mentions` asset takes (`tiktok_etl/defs/mentions.py`):
`normalize_partition` -> `upsert_mentions` -> `iter_mentions_arrow` ->
`write_parquet_batches`, one partition at a time, fed with synthetic raw rows shaped like
`tiktok_videos` / `tiktok_comments` rows (generated lazily and deterministically). It is
compared, in the same run, on the same PostgreSQL server, with

- the storage limit: the same mentions, already in final form in memory, COPYed with
  psycopg 3 into a plain table with the same columns, plus pyarrow writing the same table
  to Parquet;
- the peer: a dlt pipeline loading the same mentions into PostgreSQL
  (`write_disposition="merge"` on `(tenant_id, platform, external_id)`) and to Parquet
  (filesystem destination).

Every variant runs in a fresh subprocess (its own peak RSS) on a fresh database.

    .venv/bin/python benchmarks/load.py --quick      # 30,000 mentions, < 1 minute
    .venv/bin/python benchmarks/load.py              # 1,000,000 mentions
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    create_database,
    machine_info,
    print_table,
    private_postgres,
    profiled,
    save_results,
)

from tiktok_etl.mentions.keywords import KeywordMatcher
from tiktok_etl.mentions.normalize import Mention, MentionSource, normalize_partition
from tiktok_etl.mentions.schema import COLUMN_NAMES, KEY_COLUMNS, MENTION_COLUMNS, to_json_text

PARTITION_COLUMNS = ("account_key", "date")
FIRST_DAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)
KEYWORDS = ("acme", "launch", "summer sale")
VARIANTS = ("inputs", "storage", "project", "dlt")


@dataclass(frozen=True)
class LoadConfig:
    mentions: int
    partitions: int
    video_every: int = 50  # one video per this many mentions, the rest comments and replies
    reply_every: int = 4  # one comment in this many is a reply
    seed: int = 7

    def partition_sizes(self) -> list[int]:
        base, extra = divmod(self.mentions, self.partitions)
        return [base + (1 if p < extra else 0) for p in range(self.partitions)]


QUICK = LoadConfig(mentions=30_000, partitions=2)
FULL = LoadConfig(mentions=1_000_000, partitions=4)


# synthetic raw rows


_WORDS = (
    "the",
    "a",
    "this",
    "is",
    "so",
    "good",
    "love",
    "it",
    "wow",
    "when",
    "new",
    "video",
    "please",
    "more",
    "again",
    "best",
    "ever",
    "omg",
    "look",
    "at",
    "that",
    "how",
    "did",
    "you",
    "do",
    "lol",
    "haha",
    "yes",
    "no",
    "maybe",
    "tomorrow",
    "today",
    "music",
    "dance",
    "trend",
    "follow",
    "share",
    "like",
    "comment",
    "link",
    "bio",
    "price",
    "shipping",
    "where",
    "buy",
    "size",
    "color",
    "review",
    "tutorial",
    "part",
    "two",
    "three",
    "first",
    "last",
    "cute",
    "funny",
    "crazy",
    "real",
    "fake",
    "honest",
    "amazing",
)
_RARE = ("acme", "Acme", "#acme", "launch", "summer sale", "#SummerSale", "café", "straße")
_EMOJI = ("🔥", "😂", "❤️", "👏", "🚀", "✨", "東京", "¿qué?")


def text_pool(seed: int, size: int = 4096) -> list[str]:
    """Comment-like texts: mostly ASCII words, some emoji and accents, a few keywords."""
    rng = random.Random(seed)
    texts = []
    for _ in range(size):
        words = rng.choices(_WORDS, k=rng.randint(3, 22))
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), rng.choice(_EMOJI))
        if rng.random() < 0.05:
            words.insert(rng.randrange(len(words)), rng.choice(_RARE))
        texts.append(" ".join(words).capitalize())
    return texts


@dataclass(frozen=True)
class Partition:
    """One account's UTC day: `size` mentions, of which `videos` are videos."""

    index: int
    size: int
    config: LoadConfig

    @property
    def account_key(self) -> str:
        return f"load_{self.index}"

    @property
    def day(self) -> date:
        return FIRST_DAY + timedelta(days=self.index)

    @property
    def videos(self) -> int:
        return max(1, self.size // self.config.video_every)

    @property
    def source(self) -> MentionSource:
        return MentionSource(self.account_key, tenant_id=1, keywords=KEYWORDS)

    def _id(self, kind: int, n: int) -> str:
        return str(7_300_000_000_000_000_000 + self.index * 10**12 + kind * 10**10 + n)

    def _moment(self, n: int, count: int) -> datetime:
        start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
        return start + timedelta(seconds=n * 86_399 // max(1, count))

    def user_row(self) -> dict[str, Any]:
        username = f"brand_{self.index}"
        return {
            "account_key": self.account_key,
            "date": self.day,
            "fetched_at": NOW,
            "api": "business",
            "open_id": f"open-{self.index}",
            "username": username,
            "display_name": f"Brand {self.index}",
            "avatar_url": f"https://p16.tiktokcdn.com/{username}.jpeg",
            "follower_count": 120_000 + self.index,
            "raw": {"username": username, "display_name": f"Brand {self.index}"},
        }

    def video_rows(self, texts: list[str]) -> Iterator[dict[str, Any]]:
        for n in range(self.videos):
            video_id = self._id(1, n)
            created = self._moment(n, self.videos)
            caption = texts[(n * 31) % len(texts)]
            share_url = f"https://www.tiktok.com/@brand_{self.index}/video/{video_id}"
            raw = {
                "item_id": video_id,
                "create_time": str(int(created.timestamp())),
                "thumbnail_url": f"https://p16-sign-sg.tiktokcdn.com/obj/{video_id}~thumb.jpeg",
                "share_url": share_url,
                "embed_url": f"https://www.tiktok.com/embed/v2/{video_id}",
                "caption": caption,
                "video_views": 10_000 + n,
                "video_duration": 21.0,
                "likes": 900 + n,
                "comments": 40,
                "shares": 12,
                "reach": 8_000 + n,
                "full_video_watched_rate": 0.31,
                "total_time_watched": 51_000.0,
                "average_time_watched": 9.4,
            }
            yield {
                "account_key": self.account_key,
                "date": self.day,
                "fetched_at": NOW,
                "api": "business",
                "video_id": video_id,
                "create_time": created,
                "description": caption,
                "title": None,
                "share_url": share_url,
                "cover_image_url": raw["thumbnail_url"],
                "embed_url": raw["embed_url"],
                "duration": 21.0,
                "width": None,
                "height": None,
                "like_count": raw["likes"],
                "comment_count": 40,
                "share_count": 12,
                "view_count": raw["video_views"],
                "reach": raw["reach"],
                "full_video_watched_rate": 0.31,
                "total_time_watched": 51_000.0,
                "average_time_watched": 9.4,
                "raw": raw,
            }

    def comment_rows(self, texts: list[str]) -> Iterator[dict[str, Any]]:
        count = self.size - self.videos
        every = self.config.reply_every
        for n in range(count):
            comment_id = self._id(2, n)
            video_id = self._id(1, n % self.videos)
            parent = self._id(2, n - 1) if n % every == every - 1 else None
            created = self._moment(n, count)
            text = texts[n % len(texts)]
            username = f"user_{(n * 7919) % 100_003}"
            identity = f"{(n * 2_654_435_761) % 2**64:016x}"
            raw: dict[str, Any] = {
                "comment_id": comment_id,
                "video_id": video_id,
                "user_id": identity,
                "unique_identifier": identity,
                "create_time": str(int(created.timestamp())),
                "text": text,
                "likes": n % 37,
                "owner": False,
                "liked": False,
                "status": "PUBLIC",
                "username": username,
                "profile_image": f"https://p16-sign-sg.tiktokcdn.com/tiktok-obj/{identity}.jpeg",
            }
            if parent is None:
                raw["replies"] = 1 if n % every == every - 2 else 0
                raw["pinned"] = False
            else:
                raw["parent_comment_id"] = parent
            yield {
                "account_key": self.account_key,
                "date": self.day,
                "fetched_at": NOW,
                "comment_id": comment_id,
                "video_id": video_id,
                "parent_comment_id": parent,
                "create_time": created,
                "text": text,
                "like_count": raw["likes"],
                "reply_count": raw.get("replies"),
                "username": username,
                "unique_identifier": identity,
                "profile_image": raw["profile_image"],
                "status": "PUBLIC",
                "owner": False,
                "pinned": False,
                "raw": raw,
            }

    def mentions(self, texts: list[str], batch_size: int = 10_000) -> Iterator[list[Mention]]:
        """The project's normalization of this partition's raw rows, streamed in batches."""
        return normalize_partition(
            self.source,
            self.user_row(),
            self.video_rows(texts),
            self.comment_rows(texts),
            {},
            KeywordMatcher(KEYWORDS),
            batch_size,
            now=NOW,
        )


def partitions(config: LoadConfig) -> list[Partition]:
    return [Partition(i, size, config) for i, size in enumerate(config.partition_sizes())]


# variants: each runs in its own subprocess and returns its figures


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _drain(rows: Iterator[Any]) -> int:
    return sum(1 for _ in rows)


def variant_inputs(config: LoadConfig, db_url: str, work: Path) -> dict[str, Any]:
    """What the other variants' timings include but is not loading: generating the
    synthetic raw rows, and normalizing them (the project's own Python work)."""
    texts = text_pool(config.seed)
    parts = partitions(config)
    generate = sum(
        _timed(lambda p=p: _drain(p.video_rows(texts)) + _drain(p.comment_rows(texts)))
        for p in parts
    )
    normalize = sum(_timed(lambda p=p: _drain(p.mentions(texts))) for p in parts)
    return {"generate_seconds": generate, "generate_and_normalize_seconds": normalize}


# what the upsert's statements are, by how their SQL starts
_STATEMENTS = (
    ("WITH upserted AS (INSERT", "insert_on_conflict"),
    ("ANALYZE", "analyze_staging"),
    ("UPDATE", "soft_delete"),
    ("SELECT count(*)", "count_restored"),
    ('SELECT "tenant_id", "platform", "external_id" FROM', "check_unique"),
)


@contextmanager
def statement_timings(totals: dict[str, float]) -> Iterator[None]:
    """Add the time of every `psycopg.Cursor.execute` to `totals`, by statement (the COPY
    and the server cursor's fetches are not `execute` calls and are not counted)."""
    import psycopg
    from psycopg import sql

    original = psycopg.Cursor.execute

    def timed(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, query, *args, **kwargs)
        finally:
            text = query.as_string(self) if isinstance(query, sql.Composable) else str(query)
            label = next((name for head, name in _STATEMENTS if text.startswith(head)), "other")
            totals[label] = totals.get(label, 0.0) + time.perf_counter() - started

    psycopg.Cursor.execute = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]


def variant_project(config: LoadConfig, db_url: str, work: Path) -> dict[str, Any]:
    """The `sl_mentions` asset's path, partition by partition."""
    from tiktok_etl.storage.db import make_engine
    from tiktok_etl.storage.mentions_store import (
        MENTIONS_TABLE,
        iter_mentions_arrow,
        upsert_mentions,
    )
    from tiktok_etl.storage.migrations import migrate
    from tiktok_etl.storage.parquet import count_parquet_partition, write_parquet_batches

    engine = make_engine(db_url)
    migrate(engine)
    texts = text_pool(config.seed)
    root = str(work / "parquet")
    postgres = parquet = 0.0
    inserted = written = 0
    statements: dict[str, float] = {}
    for part in partitions(config):
        started = time.perf_counter()
        with statement_timings(statements):
            result = upsert_mentions(engine, part.account_key, part.day, part.mentions(texts))
        postgres += time.perf_counter() - started
        started = time.perf_counter()
        write_parquet_batches(
            root,
            MENTIONS_TABLE,
            part.account_key,
            part.day,
            iter_mentions_arrow(engine, part.account_key, part.day),
        )
        parquet += time.perf_counter() - started
        inserted += result.inserted
        written += count_parquet_partition(root, MENTIONS_TABLE, part.account_key, part.day)
    engine.dispose()
    return {
        "postgres_seconds": postgres,
        "parquet_seconds": parquet,
        "rows_postgres": inserted,
        "rows_parquet": written,
        **{f"upsert_sql_{name}_seconds": seconds for name, seconds in statements.items()},
    }


def _pg_array(values: list[str]) -> str:
    if not values:
        return "{}"
    return '{"' + '","'.join(v.replace("\\", "\\\\").replace('"', '\\"') for v in values) + '"}'


def final_form(part: Partition, texts: list[str]) -> tuple[list[tuple[Any, ...]], dict[str, list]]:
    """The partition's mentions as COPY tuples (JSON as text, arrays as literals) and as
    Arrow-ready columns (the Parquet file's columns), built before any timing starts."""
    json_columns = {c.name for c in MENTION_COLUMNS if c.pg_type == "jsonb"}
    array_columns = {c.name for c in MENTION_COLUMNS if c.pg_type == "text[]"}
    rows: list[tuple[Any, ...]] = []
    columns: dict[str, list[Any]] = {n: [] for n in COLUMN_NAMES if n not in PARTITION_COLUMNS}
    for batch in part.mentions(texts):
        for mention in batch:
            values = []
            for name in COLUMN_NAMES:
                value = mention[name]
                if name in json_columns:
                    value = to_json_text(value)
                if name in columns:
                    columns[name].append(value)
                if name in array_columns:
                    value = _pg_array(value)
                values.append(value)
            rows.append(tuple(values))
    return rows, columns


def variant_storage(config: LoadConfig, db_url: str, work: Path) -> dict[str, Any]:
    """The storage limit: COPY of final-form rows into a plain table, plus pyarrow."""
    import psycopg
    import pyarrow as pa
    import pyarrow.parquet as pq
    from psycopg import sql

    from tiktok_etl.mentions.schema import arrow_schema
    from tiktok_etl.storage.db import to_libpq_url

    schema = arrow_schema()
    file_schema = pa.schema([f for f in schema if f.name not in PARTITION_COLUMNS])
    texts = text_pool(config.seed)
    names = sql.SQL(", ").join(sql.Identifier(n) for n in COLUMN_NAMES)
    copy_sql = sql.SQL("COPY plain_mentions ({}) FROM STDIN").format(names)
    postgres = parquet = 0.0
    rows_copied = rows_written = 0
    with psycopg.connect(to_libpq_url(db_url)) as conn:
        columns_ddl = ", ".join(f'"{c.name}" {c.pg_type}' for c in MENTION_COLUMNS)
        conn.execute(f"CREATE TABLE plain_mentions ({columns_ddl})")
        conn.commit()
        for part in partitions(config):
            rows, columns = final_form(part, texts)
            started = time.perf_counter()
            with conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
            postgres += time.perf_counter() - started
            started = time.perf_counter()
            table = pa.Table.from_arrays(
                [pa.array(columns[f.name], type=f.type) for f in file_schema], schema=file_schema
            )
            target = work / "parquet" / part.account_key / f"{part.day}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, target)
            parquet += time.perf_counter() - started
            rows_copied += len(rows)
            rows_written += pq.ParquetFile(target).metadata.num_rows
            del rows, columns, table
    return {
        "postgres_seconds": postgres,
        "parquet_seconds": parquet,
        "rows_postgres": rows_copied,
        "rows_parquet": rows_written,
    }


def _dlt_credentials(db_url: str) -> str:
    """A libpq URL for dlt, which insists on a host and a password: the embedded server
    listens on a unix socket (`?host=<dir>` overrides `localhost`) and trusts local users."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    query = "&".join(f"{k}={v}" for k, v in url.query.items())
    return f"postgresql://{url.username}:unused@localhost/{url.database}?{query}"


def variant_dlt(config: LoadConfig, db_url: str, work: Path) -> dict[str, Any]:
    """The peer: dlt merging the same mentions into PostgreSQL and writing Parquet files."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt

    texts = text_pool(config.seed)
    pipelines_dir = str(work / "dlt")
    to_postgres = dlt.pipeline(
        pipeline_name="bench_postgres",
        destination=dlt.destinations.postgres(credentials=_dlt_credentials(db_url)),
        dataset_name="bench",
        pipelines_dir=pipelines_dir,
    )
    to_parquet = dlt.pipeline(
        pipeline_name="bench_parquet",
        destination=dlt.destinations.filesystem(bucket_url=(work / "parquet").as_uri()),
        dataset_name="bench",
        pipelines_dir=pipelines_dir,
    )
    postgres = parquet = 0.0
    for part in partitions(config):

        def mentions(part: Partition = part) -> Iterator[list[Mention]]:
            yield from part.mentions(texts)

        merged = dlt.resource(
            mentions,
            name="sl_mentions",
            write_disposition="merge",
            primary_key=KEY_COLUMNS,
            max_table_nesting=0,
        )
        postgres += _timed(lambda merged=merged: to_postgres.run(merged))
        files = dlt.resource(mentions, name="sl_mentions", max_table_nesting=0)
        parquet += _timed(lambda files=files: to_parquet.run(files, loader_file_format="parquet"))
    with to_postgres.sql_client() as client:
        rows_postgres = client.execute_sql("SELECT count(*) FROM sl_mentions")[0][0]
    rows_parquet = to_parquet.last_trace.last_normalize_info.row_counts.get("sl_mentions", 0)
    return {
        "postgres_seconds": postgres,
        "parquet_seconds": parquet,
        "rows_postgres": int(rows_postgres),
        "rows_parquet_last_partition": int(rows_parquet),
    }


VARIANT_FUNCTIONS: dict[str, Callable[[LoadConfig, str, Path], dict[str, Any]]] = {
    "inputs": variant_inputs,
    "storage": variant_storage,
    "project": variant_project,
    "dlt": variant_dlt,
}


def run_variant(name: str, config: LoadConfig, db_url: str, profile: str | None) -> None:
    """Subprocess entry point: run one variant, print its figures as one JSON line."""
    with tempfile.TemporaryDirectory(prefix=f"tiktok_etl_bench_{name}_") as work:
        started = time.perf_counter()
        with profiled(profile):
            figures = VARIANT_FUNCTIONS[name](config, db_url, Path(work))
        figures["wall_seconds"] = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures["peak_rss_mib"] = round(max(own, children) / 1024, 1)  # Linux: KiB
    print(json.dumps(figures))


def spawn_variant(
    name: str, config: LoadConfig, server_url: str, profile: str | None
) -> dict[str, Any]:
    """Run a variant in a fresh interpreter on a fresh database; returns its figures."""
    db_url = create_database(server_url, f"bench_load_{name}")
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--run-variant",
        name,
        "--config",
        json.dumps(asdict(config)),
        "--db-url",
        db_url,
    ]
    if profile:
        command += ["--profile", f"{profile}.{name}"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"variant {name} failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# report


def median_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the repeated runs of one variant."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def summarize(config: LoadConfig, figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Load time per variant (net of work that is not loading) and the ratios."""
    inputs = figures["inputs"]
    generate = inputs["generate_seconds"]
    normalize = inputs["generate_and_normalize_seconds"] - generate

    def gross(name: str) -> float:
        return float(figures[name]["postgres_seconds"] + figures[name]["parquet_seconds"])

    # the project is fed raw rows: its time includes generating them (not its work) and
    # normalizing them (its work); dlt is fed generated, normalized mentions (neither is)
    net = {
        "storage": gross("storage"),
        "project": gross("project") - generate,
        "dlt": gross("dlt") - 2 * (generate + normalize),  # two runs, each fed afresh
    }
    variants = {}
    for name in ("storage", "project", "dlt"):
        variants[name] = {
            **{k: round(v, 3) if isinstance(v, float) else v for k, v in figures[name].items()},
            "gross_seconds": round(gross(name), 3),
            "load_seconds": round(net[name], 3),
            "rows_per_second": round(config.mentions / net[name]),
        }
    return {
        "mentions": config.mentions,
        "project_split_seconds": project_split(figures["project"], generate, normalize),
        "inputs": {k: round(v, 3) for k, v in inputs.items() if isinstance(v, float)},
        "normalize_seconds": round(normalize, 3),
        "variants": variants,
        "project_vs_storage_limit": round(net["project"] / net["storage"], 3),
        "dlt_vs_project": round(net["dlt"] / net["project"], 3),
        "dlt_vs_storage_limit": round(net["dlt"] / net["storage"], 3),
        "project_peak_rss_mib": figures["project"]["peak_rss_mib"],
    }


def project_split(project: dict[str, Any], generate: float, normalize: float) -> dict[str, float]:
    """Where the project's time goes: normalization (measured by `inputs`), each upsert
    statement, the rest of the PostgreSQL write (encoding rows and COPYing them into the
    staging table), and the Parquet export (read-back, Arrow, write)."""
    statements = {
        key.removeprefix("upsert_sql_").removesuffix("_seconds"): float(value)
        for key, value in project.items()
        if key.startswith("upsert_sql_")
    }
    copy = project["postgres_seconds"] - generate - normalize - sum(statements.values())
    split = {"normalize": normalize, "encode_and_copy_to_staging": copy}
    split |= {f"sql_{name}": seconds for name, seconds in statements.items()}
    split["parquet_export"] = project["parquet_seconds"]
    return {name: round(seconds, 3) for name, seconds in split.items()}


def report(result: dict[str, Any]) -> None:
    variants = result["variants"]
    print_table(
        f"load: {result['mentions']:,} mentions",
        ("variant", "load (s)", "rows/s", "PostgreSQL (s)", "Parquet (s)", "peak RSS (MiB)"),
        [
            (
                name,
                v["load_seconds"],
                v["rows_per_second"],
                v["postgres_seconds"],
                v["parquet_seconds"],
                v["peak_rss_mib"],
            )
            for name, v in variants.items()
        ],
    )
    print_table(
        "ratios (same run)",
        ("figure", "value", "target"),
        [
            ("project / storage limit", result["project_vs_storage_limit"], "<= 2"),
            ("dlt / project", result["dlt_vs_project"], ">= 10"),
            ("dlt / storage limit", result["dlt_vs_storage_limit"], ""),
            ("project peak RSS (MiB)", result["project_peak_rss_mib"], "< 1024"),
            ("generating raw rows (s, subtracted)", result["inputs"]["generate_seconds"], ""),
            ("normalizing (s, in project time)", result["normalize_seconds"], ""),
        ],
    )
    split = result["project_split_seconds"]
    total = sum(split.values())
    print_table(
        "project: where the time goes",
        ("part", "seconds", "share"),
        [(name, seconds, f"{seconds / total:.0%}") for name, seconds in split.items()],
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="30,000 mentions, < 1 minute")
    parser.add_argument("--mentions", type=int, help="mentions in total")
    parser.add_argument("--partitions", type=int, help="partitions they are spread over")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"subset of {','.join(VARIANTS)}"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant (median)")
    parser.add_argument("--output", help="results JSON (default benchmarks/results/...)")
    parser.add_argument("--profile", help="cProfile each variant to PROFILE.<variant>")
    parser.add_argument("--run-variant", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.run_variant:
        config = LoadConfig(**json.loads(args.config))
        run_variant(args.run_variant, config, args.db_url, args.profile)
        return
    config = QUICK if args.quick else FULL
    if args.mentions:
        config = LoadConfig(args.mentions, args.partitions or config.partitions)
    elif args.partitions:
        config = LoadConfig(config.mentions, args.partitions)
    names = [n for n in VARIANTS if n in args.variants.split(",")]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    load_before = os.getloadavg()
    with private_postgres() as server_url:
        for repeat in range(args.repeat):  # interleaved, so background load hits all alike
            for name in names:
                print(f"{name} (run {repeat + 1}) ...", file=sys.stderr, flush=True)
                runs[name].append(spawn_variant(name, config, server_url, args.profile))
                print(f"  {json.dumps(runs[name][-1])}", file=sys.stderr, flush=True)
        machine = machine_info(server_url)
    machine["load_average_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    figures = {name: median_figures(results) for name, results in runs.items()}
    if set(names) != set(VARIANTS):
        print(json.dumps(figures, indent=2))
        return
    result = summarize(config, figures)
    report(result)
    mode = "quick" if args.quick else "full"
    command = "benchmarks/load.py " + " ".join(sys.argv[1:] if argv is None else argv)
    path = save_results(
        f"load-{mode}",
        {
            "command": command.strip(),
            "machine": machine,
            "config": asdict(config),
            "repeat": args.repeat,
            **result,
        },
        args.output,
    )
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
