"""Token-lifecycle soak check against an API double issuing 60-second access tokens.

Starts an embedded PostgreSQL in a temporary home and a ``SandboxServer`` on 127.0.0.1 with
60-second access tokens and strictly rotating refresh tokens (real clock), registers a few
accounts with ``tiktok-etl accounts add``, then for ``--minutes``:

* every ``--tick`` seconds evaluates the real ``tiktok_today_schedule`` and executes each run
  it requests in process with the real ``tiktok_ingest`` job of ``defs``;
* every ``--sensor-interval`` seconds (in its own thread, as the sensor daemon runs beside
  the run workers) evaluates the real ``tiktok_token_refresh_sensor`` and executes the
  ``tiktok_token_refresh`` runs it requests, once per run key;
* after ``--revoke-after`` minutes revokes one account's refresh chain at the double.

How "a request sent with a token the client knew had expired" is measured: the
``StoredTokenProvider`` methods that hand tokens to the HTTP clients are wrapped (in this
process only) to remember, per token, the expiry the client itself stored for it
(``expires_at`` = the client's receipt time + ``expires_in``). The double's request handler
is wrapped to look each presented access token up: a request that arrives later than
``client expiry + TRANSIT_TOLERANCE`` was sent with a token the client knew had expired. The
double's own ``requests_with_expired_token`` counter (token ``exp`` <= the double's clock) is
reported beside it; it can only be higher, because the double stamps ``exp`` from its
whole-second clock before the response reaches the client. A token the provider hands out
when its stored expiry is already past is counted separately (``handed_out_expired``).

Exit status 0 only when every acceptance check passes; the summary names the failed ones.

    .venv/bin/python scripts/soak_tokens.py --minutes 10
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# a request reaches the double on loopback within milliseconds; allow half a second
TRANSIT_TOLERANCE = 0.5
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
SEED = 7


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}s"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _claims(token: str) -> dict[str, Any] | None:
    """The payload of a sandbox access token (``act.sbx.<payload>.<mac>``), else None."""
    parts = token.split(".")
    if len(parts) != 4:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        claims = json.loads(raw)
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


@dataclass
class TokenAudit:
    """What the client knew about each token, and what the double saw."""

    known_expiry: dict[str, float] = field(default_factory=dict)  # token digest -> epoch
    handed_out: int = 0
    handed_out_expired: int = 0
    min_remaining_at_handout: float | None = None
    api_requests: int = 0
    unknown_token_requests: int = 0
    client_known_expired: int = 0
    double_expired: int = 0  # exp <= receipt time (the double's own rule)
    worst_lateness: float | None = None  # max(receipt time - client expiry)
    refresh_calls: int = 0
    refresh_ok: int = 0
    refresh_refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handed(self, token: str, expires_at: datetime | None) -> None:
        now = time.time()
        with self.lock:
            self.handed_out += 1
            if expires_at is None:
                return
            expiry = expires_at.timestamp()
            self.known_expiry[_digest(token)] = expiry
            remaining = expiry - now
            if self.min_remaining_at_handout is None or remaining < self.min_remaining_at_handout:
                self.min_remaining_at_handout = remaining
            if remaining <= 0:
                self.handed_out_expired += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {k: v for k, v in self.__dict__.items() if k not in ("known_expiry", "lock")}


def install_client_audit(audit: TokenAudit) -> None:
    """Remember the client's stored expiry of every token the provider hands out."""
    from tiktok_etl.auth.provider import StoredTokenProvider

    original_access = StoredTokenProvider.access_token
    original_refresh = StoredTokenProvider.refresh

    def _record(provider: StoredTokenProvider, token: str) -> None:
        current = provider._current
        if current is not None and current.access_token == token:
            audit.handed(token, current.expires_at)

    def access_token(self: StoredTokenProvider) -> str:
        token = original_access(self)
        _record(self, token)
        return token

    def refresh(self: StoredTokenProvider, rejected_token: str) -> str:
        token = original_refresh(self, rejected_token)
        _record(self, token)
        return token

    StoredTokenProvider.access_token = access_token  # type: ignore[method-assign]
    StoredTokenProvider.refresh = refresh  # type: ignore[method-assign]


def install_double_audit(app: Any, audit: TokenAudit) -> None:
    """Wrap the double's handler: classify each presented access token by its expiries."""
    original = app.handle

    def handle(request: Any) -> Any:
        received = time.time()
        path = request.url.path
        response = original(request)
        if path.endswith(("/oauth/token/", "/oauth2/token/", "/oauth2/refresh_token/")):
            body = request.content.decode(errors="replace")
            if "refresh_token" in body:
                ok = b'"access_token"' in response.content
                with audit.lock:
                    audit.refresh_calls += 1
                    audit.refresh_ok += ok
                    audit.refresh_refused += not ok
            return response
        if path.startswith("/sandbox/"):
            return response
        header = request.headers.get("authorization", "")
        token = header.partition(" ")[2].strip() or request.headers.get("access-token", "")
        claims = _claims(token) if token else None
        with audit.lock:
            audit.api_requests += 1
            if claims is not None and claims.get("exp", 0) <= received:
                audit.double_expired += 1
            expiry = audit.known_expiry.get(_digest(token)) if token else None
            if expiry is None:
                audit.unknown_token_requests += 1
            else:
                late = received - expiry
                worst = audit.worst_lateness
                audit.worst_lateness = late if worst is None else max(worst, late)
                if late > TRANSIT_TOLERANCE:
                    audit.client_known_expired += 1
        return response

    app.handle = handle


@dataclass(frozen=True)
class SoakAccount:
    key: str
    api: str
    open_id: str


def soak_accounts(n: int) -> list[SoakAccount]:
    out = []
    for i in range(n):
        api = "display" if i % 2 == 0 else "business"
        key = f"soak_{api[0]}{i // 2 + 1}"
        out.append(SoakAccount(key, api, f"sbx-soak-{api}-{i // 2 + 1:04d}"))
    return out


def cli_path() -> str:
    return str(Path(sys.executable).parent / "tiktok-etl")


def accounts_list_cli() -> str:
    done = subprocess.run(
        [cli_path(), "accounts", "list"], capture_output=True, text=True, timeout=120
    )
    return (done.stdout + done.stderr).rstrip()


def merge_config(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = value
    return out


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.audit = TokenAudit()
        self.accounts = soak_accounts(args.accounts)
        revoked = args.revoke_account or next(
            (a.key for a in self.accounts if a.api == "business"), self.accounts[-1].key
        )
        self.revoked = next(a for a in self.accounts if a.key == revoked)
        self.ticks: list[dict[str, Any]] = []
        self.sensor_ticks: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.launched_keys: set[str] = set()
        # in-process runs on two threads can deadlock in Dagster's per-run logging set-up
        # (logging.config.dictConfig); a deployment runs them in separate processes
        self.run_lock = threading.Lock()
        self.revoke_time: float | None = None
        self.reauth_seen_time: float | None = None
        self.cli_after_reauth: str | None = None
        self.stop = threading.Event()
        self.elapsed = 0.0

    # setup

    def setup(self) -> None:
        from cryptography.fernet import Fernet

        from tiktok_etl.sandbox import SandboxServer, build_sandbox
        from tiktok_etl.storage.embedded import EmbeddedPostgres

        self.tmp = Path(tempfile.mkdtemp(prefix="tiktok_soak_"))
        log(f"temp home {self.tmp}")
        self.pg = EmbeddedPostgres(self.tmp / "pg")
        db_url = self.pg.start()
        self.app = build_sandbox(
            seed=SEED,
            access_token_ttl=60,
            strict_rotation=True,
            history_days=self.args.history_days,
            heavy_video_ratio=0.0,
        )
        install_double_audit(self.app, self.audit)
        install_client_audit(self.audit)
        self.server = SandboxServer(self.app).start()
        log(f"double at {self.server.base_url} (60 s access tokens, strict rotation)")
        self.env = {
            "TIKTOK_API_BASE_URL": self.server.base_url,
            "TIKTOK_BUSINESS_API_BASE_URL": self.server.business_base_url,
            "TIKTOK_AUTHORIZE_URL": self.server.base_url + "/v2/auth/authorize/",
            "TIKTOK_CLIENT_KEY": "soak-client-key",
            "TIKTOK_CLIENT_SECRET": "soak-client-secret",
            "TIKTOK_BUSINESS_APP_ID": "soak-app-id",
            "TIKTOK_BUSINESS_APP_SECRET": "soak-app-secret",
            "TIKTOK_ETL_DATABASE_URL": db_url,
            "TIKTOK_ETL_TOKEN_KEY": Fernet.generate_key().decode(),
            "TIKTOK_ETL_HOME": str(self.tmp / "home"),
            "TIKTOK_ETL_PARQUET_ROOT": str(self.tmp / "parquet"),
            "DAGSTER_HOME": str(self.tmp / "dagster_home"),
        }
        os.environ.pop("TIKTOK_ETL_SANDBOX", None)
        os.environ.update(self.env)

        from click.testing import CliRunner

        from tiktok_etl.cli import main

        runner = CliRunner()
        for account in self.accounts:
            body = self.app.issue_tokens(account.open_id, account.api)  # type: ignore[arg-type]
            refresh_ttl = body.get("refresh_expires_in") or body.get("refresh_token_expires_in")
            args = [
                "accounts", "add", "--key", account.key, "--api", account.api,
                "--open-id", account.open_id, "--access-token", body["access_token"],
                "--refresh-token", body["refresh_token"],
                "--expires-in", str(body["expires_in"]),
                "--refresh-expires-in", str(refresh_ttl), "--scopes", body.get("scope", ""),
            ]  # fmt: skip
            result = runner.invoke(main, args, env=self.env, catch_exceptions=False)
            if result.exit_code != 0:
                raise RuntimeError(f"accounts add {account.key} failed: {result.output}")
            log(result.output.strip())

        import dagster as dg

        from tiktok_etl.defs.resources import FIELD_VARIABLES, TikTokConnectorResource
        from tiktok_etl.runtime import open_runtime

        self.runtime = open_runtime()
        self.runtime.export_env()
        self.instance = dg.DagsterInstance.get()
        from tiktok_etl.definitions import defs

        self.defs = defs
        self.batch_job = defs.resolve_job_def("tiktok_batch")
        self.refresh_job = defs.resolve_job_def("tiktok_token_refresh")
        values = {f: os.environ[v] for f, v in FIELD_VARIABLES.items() if os.environ.get(v)}
        self.resource = TikTokConnectorResource(**values)
        log("accounts list after registration:\n" + accounts_list_cli())

    def teardown(self) -> None:
        for name, stop in (
            ("instance", lambda: self.instance.dispose()),
            ("double", lambda: self.server.stop()),
            ("postgres", lambda: self.pg.stop()),
        ):
            try:
                stop()
            except Exception as exc:
                log(f"stopping {name}: {exc!r}")
        tmp = getattr(self, "tmp", None)
        if tmp is not None and not self.args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    # observations

    def statuses(self) -> dict[str, str]:
        return {a.account_key: a.status for a in self.runtime.accounts.list()}

    def double_stats(self) -> dict[str, Any]:
        snap = self.app.stats.snapshot()
        return {
            "refresh_token_reuse": snap["refresh_token_reuse"],
            "requests_with_expired_token": snap["requests_with_expired_token"],
            "requests_total": snap["requests_total"],
            "refreshes": self.audit.refresh_ok,
        }

    # the schedule

    def landed_accounts(self, run_id: str) -> set[str]:
        """Accounts whose sl_mentions partition (the last asset of a batch) landed in the run."""
        import dagster as dg

        records = self.instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        return {
            str(r.event_log_entry.dagster_event.partition).split("|", 1)[0]
            for r in records
            if r.event_log_entry.dagster_event is not None
            and r.event_log_entry.dagster_event.asset_key == dg.AssetKey("sl_mentions")
        }

    def run_schedule_tick(self, index: int, elapsed: float) -> None:
        import dagster as dg

        from tiktok_etl.defs.batch import partitions_of
        from tiktok_etl.defs.schedules import tiktok_today_schedule

        now = datetime.now(UTC)
        with dg.build_schedule_context(
            instance=self.instance,
            scheduled_execution_time=now,
            resources={"tiktok": self.resource},
            repository_def=self.defs.get_repository_def(),
        ) as context:
            data = tiktok_today_schedule.evaluate_tick(context)
        requests = list(data.run_requests or [])
        outcome: dict[str, str] = {}
        durations: dict[str, float] = {}
        failures: dict[str, str] = {}
        for request in requests:
            # a tick packs many accounts into one tiktok_batch run: time the run, then judge
            # each account by whether its partition landed in it
            keys = partitions_of(request)
            started = time.monotonic()
            try:
                with self.run_lock:
                    result = self.batch_job.execute_in_process(
                        run_config=merge_config(request.run_config, QUIET),
                        instance=self.instance,
                        tags={**request.tags, "soak/tick": str(index)},
                        raise_on_error=False,
                    )
                landed = self.landed_accounts(result.run_id)
                text = "" if result.success else self.failure_text(result.run_id)
                for key in keys:
                    account = key.split("|", 1)[0]
                    outcome[account] = "ok" if account in landed else "failed"
                    if account not in landed:
                        failures[account] = text
            except Exception as exc:
                for key in keys:
                    account = key.split("|", 1)[0]
                    outcome[account] = "error"
                    failures[account] = f"{type(exc).__name__}: {exc}"
                self.errors.append(f"tick {index}: {traceback.format_exc()}")
            seconds = round(time.monotonic() - started, 1)
            for key in keys:
                durations[key.split("|", 1)[0]] = seconds
        record = {
            "tick": index,
            "t": round(elapsed, 1),
            "requested": sorted(outcome),
            "runs": outcome,
            "seconds": durations,
            "failures": failures,
            "statuses": self.statuses(),
            "double": self.double_stats(),
            "client": {
                k: self.audit.snapshot()[k]
                for k in ("client_known_expired", "handed_out_expired", "double_expired")
            },
            "skip": data.skip_message,
        }
        self.ticks.append(record)
        runs = " ".join(f"{k}={v}({durations[k]}s)" for k, v in sorted(outcome.items()))
        log(
            f"tick {index} t={elapsed:5.0f}s runs: {runs or '-'} | statuses "
            f"{record['statuses']} | double {record['double']} | client {record['client']}"
        )
        for account, text in failures.items():
            log(f"  {account} failed: {text[:400]}")

    def failure_text(self, run_id: str) -> str:
        import dagster as dg

        texts = []
        for entry in self.instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
            event = entry.dagster_event
            data = event.step_failure_data if event is not None else None
            if data is not None and data.error is not None:
                texts.append(f"{event.step_key}: {data.error.message.strip()}")  # type: ignore[union-attr]
        return " | ".join(texts) or "(no step failure recorded)"

    # the sensor

    def sensor_loop(self, start: float) -> None:
        interval = self.args.sensor_interval
        n = 0
        while not self.stop.is_set():
            due = start + n * interval
            if self.stop.wait(max(0.0, due - time.monotonic())):
                return
            try:
                self.run_sensor_tick(n, time.monotonic() - start)
            except Exception:
                self.errors.append(f"sensor {n}: {traceback.format_exc()}")
                log(f"sensor {n} raised:\n{traceback.format_exc()}")
            n += 1

    def run_sensor_tick(self, index: int, elapsed: float) -> None:
        import dagster as dg

        from tiktok_etl.defs.tokens import tiktok_token_refresh_sensor

        with dg.build_sensor_context(
            instance=self.instance, resources={"tiktok": self.resource}
        ) as context:
            result = tiktok_token_refresh_sensor(context)
        record: dict[str, Any] = {"sensor": index, "t": round(elapsed, 1), "runs": {}}
        if isinstance(result, dg.SkipReason):
            record["skip"] = result.skip_message
        else:
            for request in result.run_requests or []:  # type: ignore[union-attr]
                key = request.run_key or ""
                account = request.tags.get("tiktok/account", "?")
                if key in self.launched_keys:
                    record["runs"][account] = "deduplicated"
                    continue
                self.launched_keys.add(key)
                with self.run_lock:
                    run = self.refresh_job.execute_in_process(
                        run_config=merge_config(request.run_config, QUIET),
                        instance=self.instance,
                        tags={**request.tags, "dagster/run_key": key, "soak/sensor": str(index)},
                        raise_on_error=False,
                    )
                record["runs"][account] = "ok" if run.success else "failed"
                if not run.success:
                    record.setdefault("failures", {})[account] = self.failure_text(run.run_id)
        self.sensor_ticks.append(record)
        log(
            f"sensor {index} t={elapsed:5.0f}s runs {record['runs'] or '-'}"
            + (f" | skip: {record['skip']}" if "skip" in record else "")
        )

    # the revoked account

    def watch_revoked(self) -> None:
        """Poll the accounts table each second after the revoke; capture the CLI when flipped."""
        while not self.stop.is_set() and self.reauth_seen_time is None:
            if self.revoke_time is not None:
                try:
                    status = self.runtime.accounts.get(self.revoked.key).status
                except Exception:
                    status = "?"
                if status == "reauth_required":
                    self.reauth_seen_time = time.monotonic()
                    lag = self.reauth_seen_time - self.revoke_time
                    log(f"{self.revoked.key} is reauth_required {lag:.1f}s after the revoke")
                    self.cli_after_reauth = accounts_list_cli()
                    log("tiktok-etl accounts list:\n" + self.cli_after_reauth)
                    return
            self.stop.wait(1.0)

    # main loop

    def run(self) -> None:
        args = self.args
        start = time.monotonic()
        end = start + args.minutes * 60
        revoke_at = start + args.revoke_after * 60
        sensor = threading.Thread(target=self.sensor_loop, args=(start,), daemon=True)
        watcher = threading.Thread(target=self.watch_revoked, daemon=True)
        sensor.start()
        watcher.start()
        index = 0
        while True:
            due = start + index * args.tick
            if due >= end:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            if self.revoke_time is None and time.monotonic() >= revoke_at:
                self.app.revoke_refresh(self.revoked.open_id, self.revoked.api)
                self.revoke_time = time.monotonic()
                log(f"REVOKED the refresh chain of {self.revoked.key} at the double")
            lateness = time.monotonic() - due
            if lateness > 1:
                log(f"tick {index} starts {lateness:.1f}s late")
            self.run_schedule_tick(index, time.monotonic() - start)
            index += 1
        self.stop.set()
        sensor.join(timeout=300)
        watcher.join(timeout=150)
        self.elapsed = time.monotonic() - start

    # the verdict

    def event_log_evidence(self) -> dict[str, Any]:
        import dagster as dg

        from tiktok_etl.defs.tokens import TOKENS_ASSET_KEY

        key = self.revoked.key
        observations = self.instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=TOKENS_ASSET_KEY, asset_partitions=[key]), limit=50
        ).records
        statuses = []
        for record in observations:
            obs = record.asset_observation
            meta = obs.metadata if obs is not None else {}
            status = meta.get("status")
            statuses.append(getattr(status, "value", status))
        all_obs = self.instance.fetch_observations(TOKENS_ASSET_KEY, limit=1000).records
        failed_refresh = self.instance.get_runs(
            filters=dg.RunsFilter(
                job_name="tiktok_token_refresh",
                tags={"tiktok/reauth_required": key},
            )
        )
        failed_ingest = self.instance.get_runs(
            filters=dg.RunsFilter(
                job_name="tiktok_ingest",
                tags={"tiktok/account": key},
                statuses=[dg.DagsterRunStatus.FAILURE],
            )
        )
        return {
            "token_observations_for_revoked": statuses,
            "token_observations_all_partitions": len(all_obs),
            "failed_refresh_runs_for_revoked": [r.run_id for r in failed_refresh],
            "failed_ingest_runs_for_revoked": [r.run_id for r in failed_ingest],
            "ingest_failure_text": (
                self.failure_text(failed_ingest[-1].run_id) if failed_ingest else None
            ),
        }

    def verdict(self) -> int:
        args = self.args
        stats = self.app.stats.snapshot()
        audit = self.audit.snapshot()
        revoked = self.revoked.key
        others = [a.key for a in self.accounts if a.key != revoked]
        checks: list[tuple[str, bool, str]] = []

        checks.append(
            (
                "no refresh-token reuse at the double",
                stats["refresh_token_reuse"] == 0,
                f"refresh_token_reuse={stats['refresh_token_reuse']}",
            )
        )
        checks.append(
            (
                "no request with a token the client knew had expired",
                audit["client_known_expired"] == 0 and audit["handed_out_expired"] == 0,
                f"client_known_expired={audit['client_known_expired']} "
                f"handed_out_expired={audit['handed_out_expired']} "
                f"(double's own expired count={stats['requests_with_expired_token']}, "
                f"audited exp<=receipt={audit['double_expired']}, "
                f"max(receipt - client expiry)={_seconds(audit['worst_lateness'])}, "
                f"min remaining at hand-out={_seconds(audit['min_remaining_at_handout'])}, "
                f"unknown tokens={audit['unknown_token_requests']})",
            )
        )
        bad = [
            f"tick {t['tick']}: {k}={t['runs'].get(k, 'not requested')}"
            for t in self.ticks[1:]
            for k in others
            if t["runs"].get(k) != "ok"
        ]
        checks.append(
            (
                "every non-revoked account ran ok in every tick after the first",
                not bad and len(self.ticks) > 1,
                f"{len(self.ticks)} ticks; problems: {bad[:10] or 'none'}",
            )
        )
        lag = (
            self.reauth_seen_time - self.revoke_time
            if self.reauth_seen_time is not None and self.revoke_time is not None
            else None
        )
        checks.append(
            (
                f"{revoked} reauth_required within one sensor interval "
                f"({args.sensor_interval}s) of the revoke",
                lag is not None and lag <= args.sensor_interval,
                f"lag={'never' if lag is None else f'{lag:.1f}s'}",
            )
        )
        final_cli = accounts_list_cli()
        cli_rows = [
            line for line in (self.cli_after_reauth or "").splitlines() if line.startswith(revoked)
        ]
        checks.append(
            (
                "`tiktok-etl accounts list` shows it as reauth_required",
                bool(cli_rows) and "reauth_required" in cli_rows[0],
                cli_rows[0] if cli_rows else "no row captured",
            )
        )
        flipped_tick = next(
            (t["tick"] for t in self.ticks if t["statuses"].get(revoked) == "reauth_required"),
            None,
        )
        requested_after = [
            t["tick"]
            for t in self.ticks
            if flipped_tick is not None and t["tick"] > flipped_tick and revoked in t["requested"]
        ]
        checks.append(
            (
                "its scheduled runs are skipped afterwards",
                flipped_tick is not None and not requested_after,
                f"status flipped by tick {flipped_tick}; requested again in ticks "
                f"{requested_after or 'none'}",
            )
        )
        before = [
            t["tick"]
            for t in self.ticks[1:]
            if self.revoke_time is not None
            and t["tick"] * args.tick < args.revoke_after * 60
            and t["runs"].get(revoked) != "ok"
        ]
        checks.append(
            (
                f"{revoked} itself ran ok in every tick before the revoke",
                not before,
                f"problems in ticks {before or 'none'}",
            )
        )
        checks.append(
            (
                "no unexpected errors in the harness",
                not self.errors,
                f"{len(self.errors)} error(s)",
            )
        )
        evidence = self.event_log_evidence()
        has_obs = "reauth_required" in evidence["token_observations_for_revoked"]

        print("\n" + "=" * 78)
        print("SOAK SUMMARY")
        print("=" * 78)
        print(
            f"runtime {self.elapsed / 60:.1f} min; {len(self.ticks)} schedule ticks every "
            f"{args.tick}s; {len(self.sensor_ticks)} sensor evaluations every "
            f"{args.sensor_interval}s; revoked {revoked} at {args.revoke_after} min"
        )
        per_account: dict[str, Counter[str]] = {a.key: Counter() for a in self.accounts}
        for t in self.ticks:
            for k, v in t["runs"].items():
                per_account.setdefault(k, Counter())[v] += 1
        for key, counts in per_account.items():
            api = next(a.api for a in self.accounts if a.key == key)
            print(f"  {key:<12} {api:<9} runs {dict(counts)}")
        sensor_runs = Counter(v for s in self.sensor_ticks for v in s["runs"].values())
        print(f"sensor-requested refresh runs: {dict(sensor_runs) or 'none'}")
        print(f"double: {json.dumps({k: stats[k] for k in self.double_stats() if k in stats})}")
        print(
            f"token endpoint: {audit['refresh_calls']} refresh calls, {audit['refresh_ok']} ok, "
            f"{audit['refresh_refused']} refused; {audit['api_requests']} API requests; "
            f"{audit['handed_out']} tokens handed out"
        )
        print(f"event log evidence for {revoked}: {json.dumps(evidence, default=str)}")
        print(
            f"  tiktok_account_tokens observation with status reauth_required for {revoked}: "
            f"{'yes' if has_obs else 'NO (informational, see report)'}"
        )
        print("final `tiktok-etl accounts list`:\n" + final_cli)
        print("-" * 78)
        failed = 0
        for name, ok, detail in checks:
            failed += not ok
            print(f"[{'PASS' if ok else 'FAIL'}] {name}: {detail}")
        for error in self.errors[:5]:
            print("error:", error)
        print("=" * 78)
        print("RESULT:", "PASS" if not failed else f"FAIL ({failed} check(s))")
        return 1 if failed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--accounts", type=int, default=4, help="alternating display/business")
    parser.add_argument("--tick", type=float, default=30, help="schedule tick, seconds")
    parser.add_argument("--sensor-interval", type=float, default=60, help="seconds")
    parser.add_argument("--revoke-after", type=float, default=4, help="minutes")
    parser.add_argument("--revoke-account", default=None, help="default: first business one")
    parser.add_argument("--history-days", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args(argv)
    if args.accounts < 2:
        parser.error("--accounts must be at least 2 (one is revoked)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    soak = Soak(args)
    try:
        soak.setup()
        soak.run()
        return soak.verdict()
    finally:
        soak.stop.set()
        soak.teardown()


if __name__ == "__main__":
    sys.exit(main())
