"""The pieces of an OAuth login that need no database or connector: the pending login (state
and PKCE verifier) and its 0600 file, the loopback callback listener, callback parsing.
The flows that put them together with a connector and the stores are in
:mod:`tiktok_etl.runtime.login`.

Two ways through the same steps:

- :func:`run_login` (``tiktok-etl auth login``): listen on ``127.0.0.1`` (an ephemeral port
  unless one is given), print the authorize URL (and open a browser), wait for TikTok's
  redirect to ``http://127.0.0.1:<port>/callback/``, exchange the code, store the tokens.
- :func:`begin_login` + :func:`save_pending` (``tiktok-etl auth url``) on a machine without a
  browser; the user opens the URL elsewhere and pastes the redirected URL into
  :func:`finish_login` (``tiktok-etl auth exchange``). The pending login (``state`` and the
  PKCE verifier) waits in a 0600 file under ``$TIKTOK_ETL_HOME/pending_logins/``.

Every login carries an unguessable ``state`` (a mismatching callback is rejected) and, for
Display accounts, PKCE: RFC 7636 S256 by default, TikTok's desktop ``hex`` variant on
request. The Business token endpoint takes no ``code_verifier``, so Business logins rely on
``state`` alone. Tokens are stored encrypted; an existing account is re-authorized in place
(same API family and TikTok identity), which is how ``reauth_required`` is cleared.

Nothing here prints or logs a token, secret, code or verifier: errors come from the API
layer's typed, redacted exceptions or are written from known-safe fields.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from tiktok_etl.api import (
    OAuthError,
)
from tiktok_etl.auth.model import parse_scopes
from tiktok_etl.storage.accounts import (
    API_FAMILIES,
    Account,
    validate_account_key,
)

PkceMode = Literal["S256", "hex", "none"]
PKCE_MODES: tuple[str, ...] = ("S256", "hex", "none")

DEFAULT_SCOPES: dict[str, tuple[str, ...]] = {
    "display": ("user.info.basic", "user.info.profile", "user.info.stats", "video.list"),
    "business": (
        "user.info.basic",
        "user.info.username",
        "user.info.stats",
        "user.account.type",
        "user.insights",
        "video.list",
        "video.insights",
        "comment.list",
    ),
}
CALLBACK_PATH = "/callback/"
LOOPBACK_HOST = "127.0.0.1"
LOGIN_TIMEOUT_SECONDS = 300.0
PENDING_DIR = "pending_logins"


class AuthFlowError(Exception):
    """An onboarding step failed; the message is safe to show and says what to do."""


@dataclass(frozen=True)
class PendingLogin:
    """One started authorization: what the callback must match and what to register."""

    account_key: str
    api: str
    redirect_uri: str
    state: str = field(repr=False)
    code_verifier: str | None = field(default=None, repr=False)
    pkce: str = "none"
    scopes: tuple[str, ...] = ()
    tenant_id: int = 1
    source_id: str | None = None
    keywords: tuple[str, ...] = ()
    keyword_mode: str = "tag"
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PendingLogin:
        values = json.loads(text)
        values["scopes"] = tuple(values.get("scopes") or ())
        values["keywords"] = tuple(values.get("keywords") or ())
        return cls(**values)


@dataclass(frozen=True)
class LoginResult:
    account: Account
    created: bool  # False: an existing account was re-authorized
    scopes: tuple[str, ...]


def requested_scopes(value: str | Sequence[str] | None, api: str) -> tuple[str, ...]:
    """Comma- or space-separated scopes; the family's read scopes when empty."""
    return parse_scopes(value) or DEFAULT_SCOPES[api]


def check_api(api: str) -> None:
    if api not in API_FAMILIES:
        raise AuthFlowError(
            f"unknown API family {api!r}; expected one of {', '.join(API_FAMILIES)}"
        )


def callback_query(callback_url: str) -> dict[str, str]:
    """The query parameters of the URL TikTok redirected the browser to."""
    parts = urlsplit(callback_url.strip())
    if not parts.query:
        raise AuthFlowError(
            "the callback URL has no query string: paste the full address the browser was "
            "redirected to (it contains code= and state=)"
        )
    return dict(parse_qsl(parts.query, keep_blank_values=True))


def callback_problem(exc: OAuthError) -> str:
    if exc.error == "state_mismatch":
        return (
            "the callback's state does not match this login (a stale or forged redirect); "
            "nothing was stored. Start the login again."
        )
    if exc.error == "access_denied":
        return "authorization was denied on TikTok's consent page; nothing was stored"
    if exc.error == "missing_code":
        return "the callback carries no authorization code; start the login again"
    return f"TikTok did not authorize the app: {exc}"


# pending logins (headless: `auth url` then `auth exchange`)


def pending_path(home: Path, account_key: str) -> Path:
    validate_account_key(account_key)
    return Path(home) / PENDING_DIR / f"{account_key}.json"


def save_pending(home: Path, pending: PendingLogin) -> Path:
    """Write the pending login (state, PKCE verifier) readable by the owner only (0600)."""
    path = pending_path(home, pending.account_key)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pending.to_json().encode())
    finally:
        os.close(fd)
    os.replace(temporary, path)
    return path


def load_pending(home: Path, account_key: str) -> PendingLogin:
    path = pending_path(home, account_key)
    try:
        return PendingLogin.from_json(path.read_text())
    except FileNotFoundError:
        raise AuthFlowError(
            f"no pending login for {account_key!r}: start one with "
            f"`tiktok-etl auth url --api ... --key {account_key} --redirect-uri ...`"
        ) from None
    except (ValueError, TypeError):
        raise AuthFlowError(
            f"the pending login file {path} is unreadable; start the login again"
        ) from None


def discard_pending(home: Path, account_key: str) -> None:
    pending_path(home, account_key).unlink(missing_ok=True)


# the loopback listener


_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>tiktok-etl</title></head>"
    "<body style='font-family:sans-serif'><h2>{title}</h2><p>{text}</p></body></html>"
)


class CallbackListener:
    """A one-shot HTTP listener for the OAuth redirect on the loopback interface.

    The first request to :data:`CALLBACK_PATH` carrying ``code``, ``error`` or ``state`` is
    kept; the browser gets a short page telling the user to return to the terminal.
    Requests are never logged (their query strings hold the authorization code).
    """

    def __init__(self, host: str = LOOPBACK_HOST, port: int = 0) -> None:
        self._received = threading.Event()
        self._query: dict[str, str] | None = None
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def redirect_uri(self) -> str:
        return f"http://{LOOPBACK_HOST}:{self.port}{CALLBACK_PATH}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class CallbackHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                path = parts.path if parts.path.endswith("/") else parts.path + "/"
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                if path != CALLBACK_PATH or not ({"code", "error", "state"} & query.keys()):
                    self._reply(404, "Not found", "This is the tiktok-etl login callback.")
                    return
                if not listener._accept(query):
                    self._reply(409, "Already received", "Return to the terminal.")
                    return
                if query.get("error"):
                    self._reply(
                        200,
                        "Authorization not completed",
                        "TikTok reported an error; the terminal says what to do next.",
                    )
                else:
                    self._reply(
                        200,
                        "Authorization received",
                        "You can close this window and return to the terminal.",
                    )

            def _reply(self, status: int, title: str, text: str) -> None:
                body = _PAGE.format(title=title, text=text).encode()
                self.send_response(status)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.send_header("cache-control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: request lines carry the authorization code."""

        return CallbackHandler

    def _accept(self, query: dict[str, str]) -> bool:
        if self._received.is_set():
            return False
        self._query = query
        self._received.set()
        return True

    def start(self) -> CallbackListener:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="tiktok-etl-oauth-callback",
                daemon=True,
            )
            self._thread.start()
        return self

    def wait(self, timeout: float | None = LOGIN_TIMEOUT_SECONDS) -> dict[str, str]:
        if not self._received.wait(timeout):
            raise AuthFlowError(
                f"no authorization callback within {timeout:g} s; start the login again "
                "(or use `tiktok-etl auth url` + `auth exchange` on a machine without a browser)"
            )
        assert self._query is not None
        return self._query

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> CallbackListener:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
