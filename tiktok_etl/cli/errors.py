"""The one error handler of ``tiktok-etl``: a user error becomes one line naming the fix.

A user error is something the person running the command can fix: configuration
(:class:`ConfigError`), a bad ``TIKTOK_ETL_TOKEN_KEY`` or key file, account state
(:class:`StorageError`, :class:`ReauthRequired`), a refused login (:class:`AuthFlowError`)
or an error answer from TikTok (:class:`TikTokError`). It ends the command with
``Error: <one line>`` on stderr and exit code 2. Anything else is a bug and keeps its
traceback.

Every command is a :class:`Command` and every group a :class:`Group`, whose ``invoke``
applies the handler; a group refuses any other kind of command, so none can forget it.
This module decides how errors are shown, never what a command does.
"""

from __future__ import annotations

from types import CodeType
from typing import Any

import click

from tiktok_etl.api.errors import (
    ApiError,
    OAuthError,
    PostingRefused,
    RateLimited,
    ReauthRequired,
    ScopeNotAuthorized,
    ServerError,
    TikTokError,
    TokenExpired,
    TransportError,
)
from tiktok_etl.auth.login import AuthFlowError
from tiktok_etl.auth.store import TokenCipher
from tiktok_etl.settings import ConfigError
from tiktok_etl.storage.errors import StorageError

USER_ERROR_EXIT_CODE = 2

_REAUTHORIZE = "authorize the account again: tiktok-etl auth login --api <api> --key <key>"
# the fix for an error answer from TikTok, most specific class first; api/ is a client
# library and does not know our commands, so the CLI names them
_TIKTOK_FIXES: tuple[tuple[type[TikTokError], str], ...] = (
    (ReauthRequired, _REAUTHORIZE),
    (TokenExpired, _REAUTHORIZE),
    (ScopeNotAuthorized, _REAUTHORIZE + " --scopes <the missing scopes>"),
    (RateLimited, "wait and run the command again"),
    (ServerError, "TikTok failed on its side; run the command again later"),
    (
        TransportError,
        "check the network and TIKTOK_API_BASE_URL / TIKTOK_BUSINESS_API_BASE_URL",
    ),
    (
        OAuthError,
        "check TIKTOK_CLIENT_KEY / TIKTOK_CLIENT_SECRET (TIKTOK_BUSINESS_APP_ID / "
        "TIKTOK_BUSINESS_APP_SECRET for Business) and log in again: tiktok-etl auth login",
    ),
    (ApiError, "check the account's authorization (tiktok-etl auth login) and try again"),
    (TikTokError, "run the command again; if it persists, check TikTok's status"),
)
# the token key loaders raise a plain ValueError; matching where it was raised keeps every
# other ValueError (a bug) a traceback
_TOKEN_KEY_LOADERS: frozenset[CodeType] = frozenset(
    {TokenCipher.from_env_value.__code__, TokenCipher.load_or_create.__code__}
)


class UserError(click.ClickException):
    """A one-line message naming the fix; exits 2."""

    exit_code = USER_ERROR_EXIT_CODE


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _is_token_key_error(exc: BaseException) -> bool:
    if not isinstance(exc, ValueError) or exc.__traceback__ is None:
        return False
    innermost = exc.__traceback__
    while innermost.tb_next is not None:
        innermost = innermost.tb_next
    return innermost.tb_frame.f_code in _TOKEN_KEY_LOADERS


def user_message(exc: BaseException) -> str | None:
    """The one-line message for a user error, or None if ``exc`` is not one (a bug)."""
    if isinstance(exc, PostingRefused):
        # a refused post names what is allowed and what to change
        return _one_line(str(exc))
    if isinstance(exc, TikTokError):
        fix = next(fix for kind, fix in _TIKTOK_FIXES if isinstance(exc, kind))
        return _one_line(f"{exc}; {fix}")
    if isinstance(exc, ConfigError | StorageError | AuthFlowError) or _is_token_key_error(exc):
        # these messages name the variable, the account or the command that fixes them
        return _one_line(str(exc))
    return None


class _ReportsUserErrors(click.Command):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            message = user_message(exc)
            if message is None:
                raise
            raise UserError(message) from None


class Command(_ReportsUserErrors):
    """A ``tiktok-etl`` command: user errors end it with one line and exit code 2."""


class Group(_ReportsUserErrors, click.Group):
    """A ``tiktok-etl`` command group: its commands and subgroups report user errors alike."""

    command_class = Command
    group_class = type  # subgroups are Groups too

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not isinstance(cmd, _ReportsUserErrors):
            raise TypeError(
                f"{cmd.name!r} must be a tiktok_etl.cli.errors.Command or Group, "
                "so that its user errors are reported as one line"
            )
        super().add_command(cmd, name)
