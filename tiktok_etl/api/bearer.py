"""How clients get the access token to send: the `TokenProvider` protocol, a static provider,
and the one retry-after-refresh rule (`call_with_refresh`).

The token model, the expiry rule and the providers that refresh and persist live in
`tiktok_etl.auth`; this module knows nothing about them (the client library stands alone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

from tiktok_etl.api.errors import TokenExpired

T = TypeVar("T")


@runtime_checkable
class TokenProvider(Protocol):
    """Where clients get access tokens from."""

    def access_token(self) -> str:
        """The access token to send now."""
        ...

    def refresh(self, rejected_token: str) -> str:
        """Return a fresh access token after TikTok rejected `rejected_token`.

        Another caller may already have refreshed; then return the new current
        token without refreshing again. Returning `rejected_token` itself means
        no fresher token can be had, and the client re-raises the rejection.
        """
        ...


class StaticTokenProvider:
    """A fixed access token that cannot be refreshed (scripts, tests, short jobs)."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    def __repr__(self) -> str:
        return "StaticTokenProvider(access_token=**********)"

    def access_token(self) -> str:
        return self._token

    def refresh(self, rejected_token: str) -> str:
        # nothing to refresh with: handing back the same token makes the client re-raise
        return self._token


def call_with_refresh(tokens: TokenProvider, call: Callable[[str], T]) -> T:
    """Run `call(access_token)`; on `TokenExpired`, refresh once and run it again.

    A second rejection, or a provider that cannot produce a different token,
    raises the `TokenExpired`.
    """
    token = tokens.access_token()
    try:
        return call(token)
    except TokenExpired:
        fresh = tokens.refresh(token)
        if fresh == token:
            raise
    return call(fresh)
