"""The authenticated request path shared by the Display and Business clients.

An `ApiSession` is one API family bound to a transport and a token provider:
it builds the URL, adds the family's auth header, parses the family's envelope,
refreshes the token once when TikTok rejects it, and turns listing answers into
`Page`s. Endpoint methods in `display.py` and `business.py` only say what to ask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from tiktok_etl.api.bearer import TokenProvider, call_with_refresh
from tiktok_etl.api.errors import ApiError
from tiktok_etl.api.pagination import Page, page_from_data, rejection_reason
from tiktok_etl.api.transport import Classifier, Transport

T = TypeVar("T")


class ApiSession:
    """One API family's authenticated calls through a shared `Transport`."""

    def __init__(
        self,
        transport: Transport,
        tokens: TokenProvider,
        *,
        base_url: str,
        auth_headers: Callable[[str], dict[str, str]],
        classify: Classifier,
    ) -> None:
        self.transport = transport
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        self._auth_headers = auth_headers
        self._classify = classify

    def url(self, endpoint: str) -> str:
        return f"{self.base_url}/{endpoint.lstrip('/')}"

    def call(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one request and return the envelope's `data`; refresh the token once if rejected."""
        url = self.url(endpoint)

        def attempt(token: str) -> Any:
            reply = self.transport.send(
                method,
                url,
                endpoint=endpoint,
                classify=self._classify,
                headers=self._auth_headers(token),
                params=params,
                json=json,
                idempotent=idempotent,
            )
            return reply.payload

        return call_with_refresh(self.tokens, attempt)

    def page(
        self,
        method: str,
        endpoint: str,
        *,
        list_key: str,
        build: Callable[[Mapping[str, Any]], T],
        kind: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Page[T]:
        """Request one page of a listing; malformed records become rejects."""
        data = self.call(method, endpoint, params=params, json=json)
        self.transport.stats.record_page()
        return page_from_data(data, list_key, build, kind)

    def record(
        self, method: str, endpoint: str, data: Any, build: Callable[[Mapping[str, Any]], T]
    ) -> T:
        """Build a single record from `data`, raising `ApiError` if TikTok sent an unusable one."""
        if not isinstance(data, Mapping):
            raise ApiError(endpoint, "malformed_response", "expected a JSON object", method=method)
        try:
            return build(data)
        except (ValidationError, ValueError, TypeError) as exc:
            raise ApiError(
                endpoint, "invalid_record", rejection_reason(exc), method=method
            ) from None
