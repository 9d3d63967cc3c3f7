"""Connecting TikTok accounts with OAuth: authorize URL, loopback callback, code exchange.

The flows over a :class:`~tiktok_etl.runtime.connector.Connector` (its OAuth clients and the
token and account stores); the pieces that need neither live in :mod:`tiktok_etl.auth.login`.

- :func:`run_login` (``tiktok-etl auth login``): listen on ``127.0.0.1``, print the authorize
  URL (and open a browser), wait for TikTok's redirect, exchange the code, store the tokens.
- :func:`begin_login` + ``save_pending`` (``tiktok-etl auth url``) on a machine without a
  browser; the redirected URL is then pasted into :func:`finish_login` (``auth exchange``).
- :func:`revoke_account` (``tiktok-etl accounts revoke``).

Nothing here prints or logs a token, secret, code or verifier.
"""

from __future__ import annotations

import contextlib
import webbrowser
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from tiktok_etl.api import (
    BusinessOAuth,
    DisplayOAuth,
    OAuthError,
    PkcePair,
    RateLimited,
    ServerError,
    TikTokError,
    TransportError,
    new_state,
)
from tiktok_etl.auth.login import (
    LOGIN_TIMEOUT_SECONDS,
    LOOPBACK_HOST,
    PKCE_MODES,
    AuthFlowError,
    CallbackListener,
    LoginResult,
    PendingLogin,
    PkceMode,
    callback_problem,
    check_api,
    requested_scopes,
)
from tiktok_etl.auth.model import TokenSet
from tiktok_etl.runtime import Runtime
from tiktok_etl.runtime.connector import Connector
from tiktok_etl.storage.accounts import (
    KEYWORD_MODES,
    Account,
    normalize_keywords,
    validate_account_key,
)


def begin_login(
    connector: Connector,
    *,
    account_key: str,
    api: str,
    redirect_uri: str,
    scopes: str | Sequence[str] | None = None,
    pkce: PkceMode = "S256",
    tenant_id: int = 1,
    source_id: str | None = None,
    keywords: Sequence[str] = (),
    keyword_mode: str = "tag",
) -> tuple[PendingLogin, str]:
    """A new pending login and the authorize URL to open for it."""
    check_api(api)
    try:
        validate_account_key(account_key)
    except ValueError as exc:
        raise AuthFlowError(str(exc)) from None
    if keyword_mode not in KEYWORD_MODES:
        raise AuthFlowError(f"invalid keyword mode {keyword_mode!r}")
    if pkce not in PKCE_MODES:
        raise AuthFlowError(f"invalid PKCE mode {pkce!r}; expected one of {', '.join(PKCE_MODES)}")
    _check_existing(connector.runtime, account_key, api)
    pair = PkcePair.generate(pkce) if api == "display" and pkce != "none" else None
    pending = PendingLogin(
        account_key=account_key,
        api=api,
        redirect_uri=redirect_uri,
        state=new_state(),
        code_verifier=pair.verifier if pair else None,
        pkce=pkce if pair else "none",
        scopes=requested_scopes(scopes, api),
        tenant_id=tenant_id,
        source_id=source_id,
        keywords=normalize_keywords(keywords),
        keyword_mode=keyword_mode,
    )
    url = _oauth(connector, api).authorize_url(redirect_uri, pending.scopes, pending.state, pair)
    return pending, url


def _oauth(connector: Connector, api: str) -> DisplayOAuth | BusinessOAuth:
    return connector.oauth(api)


def _check_existing(runtime: Runtime, account_key: str, api: str) -> Account | None:
    if not runtime.accounts.exists(account_key):
        return None
    existing = runtime.accounts.get(account_key)
    if existing.api != api:
        raise AuthFlowError(
            f"account {account_key!r} is a {existing.api} account; re-authorize it with "
            f"--api {existing.api}, or choose another --key"
        )
    return existing


def finish_login(
    connector: Connector, pending: PendingLogin, query: Mapping[str, str]
) -> LoginResult:
    """Check the callback against ``pending``, exchange the code, store the account."""
    oauth = _oauth(connector, pending.api)
    try:
        code = oauth.parse_callback(query, pending.state)
    except OAuthError as exc:
        raise AuthFlowError(callback_problem(exc)) from None
    try:
        if isinstance(oauth, DisplayOAuth):
            response = oauth.exchange_code(code, pending.redirect_uri, pending.code_verifier)
        else:
            response = oauth.exchange_code(code, pending.redirect_uri)
        tokens = TokenSet.from_response(response, connector.transport.clock.now())
    except OAuthError as exc:
        raise AuthFlowError(
            f"TikTok refused the authorization code ({exc}); codes work once and expire "
            "after minutes: start the login again"
        ) from None
    except TikTokError as exc:
        raise AuthFlowError(f"exchanging the authorization code failed: {exc}") from None
    return save_authorization(connector.runtime, pending, tokens)


def save_authorization(runtime: Runtime, pending: PendingLogin, tokens: TokenSet) -> LoginResult:
    """Register a new account, or store new tokens for an existing one and reactivate it."""
    from tiktok_etl.runtime.registration import register_account

    existing = _check_existing(runtime, pending.account_key, pending.api)
    if existing is None:
        account = register_account(
            account_key=pending.account_key,
            api=pending.api,
            tokens=tokens,
            tenant_id=pending.tenant_id,
            source_id=pending.source_id,
            keywords=pending.keywords,
            keyword_mode=pending.keyword_mode,
            runtime=runtime,
        )
        return LoginResult(account=account, created=True, scopes=tokens.scopes)
    if existing.open_id != tokens.open_id:
        raise AuthFlowError(
            f"the TikTok identity that authorized ({tokens.open_id}) is not the one of account "
            f"{existing.account_key!r} ({existing.open_id}); nothing was stored. Log in as "
            "that identity, or register this one under another --key"
        )
    # under the refresh lock: a worker refreshing the old pair finishes first, or re-reads ours
    with runtime.tokens.lock(existing.account_key):
        runtime.tokens.save(existing.account_key, tokens)
    account = runtime.accounts.set_status(existing.account_key, "active", None)
    return LoginResult(account=account, created=False, scopes=tokens.scopes)


def run_login(
    connector: Connector,
    *,
    account_key: str,
    api: str,
    emit: Callable[[str], None],
    port: int = 0,
    scopes: str | Sequence[str] | None = None,
    pkce: PkceMode = "S256",
    tenant_id: int = 1,
    source_id: str | None = None,
    keywords: Sequence[str] = (),
    keyword_mode: str = "tag",
    open_browser: bool = True,
    timeout: float | None = LOGIN_TIMEOUT_SECONDS,
) -> LoginResult:
    """The whole browser flow; ``emit`` shows the user the URL to open and progress."""
    try:
        listener = CallbackListener(LOOPBACK_HOST, port)
    except OSError as exc:
        raise AuthFlowError(
            f"cannot listen on {LOOPBACK_HOST}:{port} for the callback ({exc.strerror}); "
            "choose another --port"
        ) from None
    with listener:
        pending, url = begin_login(
            connector,
            account_key=account_key,
            api=api,
            redirect_uri=listener.redirect_uri,
            scopes=scopes,
            pkce=pkce,
            tenant_id=tenant_id,
            source_id=source_id,
            keywords=keywords,
            keyword_mode=keyword_mode,
        )
        emit(f"Open this URL to authorize {api} account {account_key!r}:")
        emit(url)
        emit(f"Waiting for TikTok to redirect to {listener.redirect_uri} ...")
        if open_browser:
            with contextlib.suppress(Exception):  # no browser: the printed URL still works
                webbrowser.open(url)
        query = listener.wait(timeout)
    return finish_login(connector, pending, query)


@dataclass(frozen=True)
class RevokeResult:
    account: Account
    remote: Literal["revoked", "already_invalid", "no_tokens"]


def revoke_account(connector: Connector, account_key: str) -> RevokeResult:
    """Revoke the account's token at TikTok, delete the stored pair, set status ``revoked``.

    A token TikTok no longer accepts (already revoked, refresh refused) still ends revoked
    here; if TikTok cannot be reached, nothing changes and AuthFlowError says so.
    """
    runtime = connector.runtime
    account = runtime.accounts.get(account_key)
    remote: Literal["revoked", "already_invalid", "no_tokens"] = "no_tokens"
    if runtime.tokens.load(account_key) is not None:
        provider = connector.token_provider(account)
        try:
            _oauth(connector, account.api).revoke(provider.access_token())
            remote = "revoked"
        except (RateLimited, ServerError, TransportError) as exc:
            raise AuthFlowError(
                f"could not reach TikTok to revoke {account_key!r} ({exc}); nothing changed, "
                "try again"
            ) from None
        except TikTokError:  # refused (already revoked, refresh token dead): nothing to revoke
            remote = "already_invalid"
        with runtime.tokens.lock(account_key):
            runtime.tokens.delete(account_key)
    account = runtime.accounts.set_status(
        account_key, "revoked", f"revoked {datetime.now(UTC):%Y-%m-%d %H:%M}Z"
    )
    return RevokeResult(account=account, remote=remote)


@contextlib.contextmanager
def open_connector(runtime: Runtime) -> Iterator[Connector]:
    connector = Connector.open(runtime)
    try:
        yield connector
    finally:
        connector.close()
