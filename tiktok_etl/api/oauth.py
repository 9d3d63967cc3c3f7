"""OAuth for both API families: authorize URLs, callbacks, code exchange, refresh, revoke.

Token endpoints go through the same `Transport` as data calls (rate limits,
retries), with two restrictions. An authorization code is single-use, so a code
exchange is retried only when TikTok certainly did not process it (throttled,
unavailable, connection never opened), never after a timeout. A refresh is the
same kind of write: TikTok rotates the refresh token the moment it answers, so a
refresh whose answer was lost in transit (timeout or broken connection after the
request was sent) is not retried with the burnt token; it raises `ReauthRequired`
with error `refresh_answer_lost`. Only `invalid_grant` (Display) or the Business
invalid-grant code means the refresh token is dead; a refusal of the app's own
credentials (`invalid_client`, other Business refusals) raises
`AppCredentialsRejected`, which is a configuration problem, not the account's.
Secrets travel only in request bodies and never appear in errors or logs; the app
secret is registered with `redact` when a client is built.

This is the wire protocol only: token endpoints return the response data as TikTok sent it
(a `TokenResponse` mapping); `tiktok_etl.auth` turns it into its token model.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias
from urllib.parse import urlencode

import httpx

from tiktok_etl.api.business_envelope import classify_business
from tiktok_etl.api.display_envelope import classify_display_oauth
from tiktok_etl.api.errors import (
    ApiError,
    OAuthError,
    RateLimited,
    ReauthRequired,
    ServerError,
    TransportError,
)
from tiktok_etl.api.pkce import PkcePair
from tiktok_etl.api.redaction import register_secret
from tiktok_etl.api.transport import HOPELESS, NEVER_SENT, Classifier, Transport

DISPLAY_TOKEN = "/v2/oauth/token/"
DISPLAY_REVOKE = "/v2/oauth/revoke/"
BUSINESS_TOKEN = "tt_user/oauth2/token/"
BUSINESS_REFRESH = "tt_user/oauth2/refresh_token/"
BUSINESS_REVOKE = "tt_user/oauth2/revoke/"

INVALID_GRANT = "invalid_grant"
INVALID_CLIENT = "invalid_client"
# TikTok documents no Business code for a dead refresh token; this is the one it (and the
# sandbox) answers. Every other Business refusal of a refresh is about the app's request.
BUSINESS_INVALID_GRANT_CODES = frozenset({"40107"})
REFRESH_ANSWER_LOST = "refresh_answer_lost"


class AppCredentialsRejected(OAuthError):
    """TikTok refused the app's own credentials or request (``invalid_client``, a Business
    refusal that is not an invalid grant): fix the configuration, not the account."""

    def __init__(
        self, error: str, description: str = "", *, family: str, log_id: str | None = None
    ) -> None:
        self.family = family
        super().__init__(error, description, log_id=log_id)


def _answer_lost(exc: TransportError) -> bool:
    """True when the request may have reached TikTok but no answer came back."""
    cause = exc.__cause__
    return isinstance(cause, httpx.TransportError) and not isinstance(cause, NEVER_SENT + HOPELESS)


def _lost(exc: TransportError) -> ReauthRequired:
    return ReauthRequired(
        REFRESH_ANSWER_LOST,
        f"the refresh answer was lost in transit ({exc.message}); TikTok may have rotated "
        "the refresh token already, so it is not sent again",
    )


# a token endpoint's answer: Display's flat JSON, or the Business envelope's `data`
TokenResponse: TypeAlias = Mapping[str, Any]


def build_authorize_url(
    authorize_url: str,
    client_key: str,
    redirect_uri: str,
    scopes: Iterable[str],
    state: str,
    pkce: PkcePair | None = None,
) -> str:
    """The consent page URL the user opens in a browser."""
    params = {
        "client_key": client_key,
        "scope": ",".join(scopes),
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if pkce is not None:
        params["code_challenge"] = pkce.challenge
        params["code_challenge_method"] = pkce.code_challenge_method
    return f"{authorize_url}?{urlencode(params, safe=',')}"


def parse_callback(query: Mapping[str, str], expected_state: str) -> str:
    """The authorization code from the redirect's query, after checking `state`.

    Raises `OAuthError` when the user declined (`error`, `error_description`),
    when `state` does not match (a forged or stale redirect), or when no code came.
    """
    if query.get("error"):
        raise OAuthError(query["error"], query.get("error_description", ""))
    if not secrets.compare_digest(query.get("state", ""), expected_state):
        raise OAuthError(
            "state_mismatch",
            "the callback's state does not match the one sent: start the authorization again",
        )
    code = query.get("code")
    if not code:
        raise OAuthError("missing_code", "the callback carries no authorization code")
    return code


def _token_response(payload: Any) -> TokenResponse:
    if not isinstance(payload, Mapping):
        return {}  # an empty answer: the token model's parser names what is missing
    return payload


def _endpoint_url(base_url: str, endpoint: str) -> str:
    return f"{base_url.rstrip('/')}/{endpoint.lstrip('/')}"


class _OAuthApp:
    """What both families' OAuth clients share: the app's identity and the authorize URL."""

    _id_name = "client_id"

    def __init__(
        self,
        transport: Transport,
        app_key: str,
        app_secret: str,
        *,
        api_base_url: str,
        authorize_url: str,
    ) -> None:
        self._transport = transport
        self._app_key = app_key
        self._app_secret = app_secret
        register_secret(app_secret)
        self.api_base_url = api_base_url
        self.authorize_endpoint = authorize_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._id_name}={self._app_key!r})"

    parse_callback = staticmethod(parse_callback)

    def authorize_url(
        self,
        redirect_uri: str,
        scopes: Iterable[str],
        state: str,
        pkce: PkcePair | None = None,
    ) -> str:
        return build_authorize_url(
            self.authorize_endpoint, self._app_key, redirect_uri, scopes, state, pkce
        )


class DisplayOAuth(_OAuthApp):
    """Login Kit OAuth for the Display API (form-encoded, flat JSON answers)."""

    _id_name = "client_key"

    @property
    def client_key(self) -> str:
        return self._app_key

    def exchange_code(
        self,
        code: str,
        redirect_uri: str,
        code_verifier: str | None = None,
    ) -> TokenResponse:
        """Trade an authorization code for tokens (never retried after an ambiguous failure)."""
        form = {
            "client_key": self.client_key,
            "client_secret": self._app_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
        }
        if code_verifier:
            form["code_verifier"] = code_verifier
        payload = self._post(DISPLAY_TOKEN, form, idempotent=False)
        return _token_response(payload)

    def refresh(self, refresh_token: str) -> TokenResponse:
        """A new token pair; `invalid_grant` raises `ReauthRequired`.

        The refresh token rotates (the old one stops working): persist the returned
        pair before anything else uses it.
        """
        form = {
            "client_key": self.client_key,
            "client_secret": self._app_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        try:
            payload = self._post(DISPLAY_TOKEN, form, idempotent=False)
        except TransportError as exc:
            if _answer_lost(exc):
                raise _lost(exc) from None
            raise
        except OAuthError as exc:
            if exc.error == INVALID_GRANT:
                raise ReauthRequired(exc.error, exc.description, log_id=exc.log_id) from None
            if exc.error == INVALID_CLIENT:
                raise AppCredentialsRejected(
                    exc.error, exc.description, family="display", log_id=exc.log_id
                ) from None
            raise
        return _token_response(payload)

    def revoke(self, token: str) -> None:
        """Revoke an access token: the user must authorize again to be read."""
        form = {
            "client_key": self.client_key,
            "client_secret": self._app_secret,
            "token": token,
        }
        self._post(DISPLAY_REVOKE, form, idempotent=True)

    def _post(self, endpoint: str, form: Mapping[str, str], *, idempotent: bool) -> Any:
        reply = self._transport.send(
            "POST",
            _endpoint_url(self.api_base_url, endpoint),
            endpoint=endpoint,
            classify=classify_display_oauth,
            headers={"Cache-Control": "no-cache"},
            data=form,
            idempotent=idempotent,
        )
        return reply.payload


class BusinessOAuth(_OAuthApp):
    """OAuth for the Business API (JSON bodies, Business envelope).

    On refresh, only the invalid-grant code (`BUSINESS_INVALID_GRANT_CODES`)
    raises `ReauthRequired`; any other refusal that is not a throttle (`40100`)
    or a server error (`50000`, `50002`, `60001`) raises `AppCredentialsRejected`:
    the request carries nothing but the app's credentials and the refresh token.
    """

    @property
    def app_id(self) -> str:
        return self._app_key

    def exchange_code(self, auth_code: str, redirect_uri: str) -> TokenResponse:
        """Trade an authorization code for tokens (never retried after an ambiguous failure)."""
        fields = {
            "grant_type": "authorization_code",
            "auth_code": auth_code,
            "redirect_uri": redirect_uri,
        }
        return _token_response(self._call(BUSINESS_TOKEN, fields, idempotent=False))

    def refresh(self, refresh_token: str) -> TokenResponse:
        """A new token pair; the invalid-grant code raises `ReauthRequired`, any other
        non-retryable refusal `AppCredentialsRejected`."""
        fields = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        try:
            payload = self._call(BUSINESS_REFRESH, fields, idempotent=False)
        except TransportError as exc:
            if _answer_lost(exc):
                raise _lost(exc) from None
            raise
        except ReauthRequired:
            raise
        except OAuthError as exc:
            if exc.error in BUSINESS_INVALID_GRANT_CODES:
                raise ReauthRequired(exc.error, exc.description, log_id=exc.log_id) from None
            raise AppCredentialsRejected(
                exc.error, exc.description, family="business", log_id=exc.log_id
            ) from None
        return _token_response(payload)

    def revoke(self, access_token: str) -> None:
        """Revoke the account's access token."""
        self._call(BUSINESS_REVOKE, {"access_token": access_token}, idempotent=True)

    def _call(
        self,
        endpoint: str,
        fields: Mapping[str, str],
        *,
        idempotent: bool,
        refused: type[OAuthError] = OAuthError,
    ) -> Any:
        """POST ``fields`` with the app's credentials; a refusal that no retry can fix
        (anything but a throttle or a server error) raises ``refused``."""
        body = {"client_id": self.app_id, "client_secret": self._app_secret, **fields}
        try:
            return self._post(endpoint, body, idempotent=idempotent)
        except (RateLimited, ServerError):
            raise
        except ApiError as exc:
            raise refused(exc.code, exc.message, log_id=exc.log_id) from None

    def _post(self, endpoint: str, body: Mapping[str, str], *, idempotent: bool) -> Any:
        classify: Classifier = classify_business
        reply = self._transport.send(
            "POST",
            _endpoint_url(self.api_base_url, endpoint),
            endpoint=endpoint,
            classify=classify,
            json=dict(body),
            idempotent=idempotent,
        )
        return reply.payload
