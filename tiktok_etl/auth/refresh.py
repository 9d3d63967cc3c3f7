"""Refresh-token -> new pair, with the app-credential failures turned into config errors.

``invalid_client`` (Display) or a Business refusal that is not an invalid grant says the
app's credentials are wrong, which no account can fix: :func:`make_refresher` raises
:class:`AppCredentialsError` naming the variables, and the account stays ``active``.
Only a dead refresh token (``ReauthRequired``) marks an account ``reauth_required``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tiktok_etl.api.oauth import AppCredentialsRejected, BusinessOAuth, DisplayOAuth
from tiktok_etl.api.redaction import register_secret
from tiktok_etl.auth.model import TokenSet
from tiktok_etl.settings import ConfigError

CREDENTIAL_VARIABLES: dict[str, tuple[str, str]] = {
    "display": ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"),
    "business": ("TIKTOK_BUSINESS_APP_ID", "TIKTOK_BUSINESS_APP_SECRET"),
}


class AppCredentialsError(ConfigError):
    """TikTok refused the app's credentials; the message names the variables."""


def credentials_error(api: str, exc: AppCredentialsRejected) -> AppCredentialsError:
    key_var, secret_var = CREDENTIAL_VARIABLES[api]
    return AppCredentialsError(
        f"TikTok refused the {api} app's credentials ({exc}): check {key_var} and "
        f"{secret_var}. No account was changed; every account stays active."
    )


def make_refresher(
    oauth: DisplayOAuth | BusinessOAuth, api: str, now: Callable[[], datetime]
) -> Callable[[str], TokenSet]:
    def refresh(refresh_token: str) -> TokenSet:
        try:
            response = oauth.refresh(refresh_token)
        except AppCredentialsRejected as exc:
            raise credentials_error(api, exc) from None
        tokens = TokenSet.from_response(response, now())
        register_secret(tokens.access_token)
        register_secret(tokens.refresh_token)
        return tokens

    return refresh
