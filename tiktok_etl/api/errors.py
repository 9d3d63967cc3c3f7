"""Typed errors raised by the TikTok clients.

Each error carries what a person (or the orchestration layer) needs to act on
it: which endpoint failed, TikTok's error code, its log or request id, and the
HTTP status. Messages are built from those fields and passed through `redact`,
so no token, secret or authorization code can leak through `str()` or `repr()`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tiktok_etl.api.redaction import redact


def _restore(cls: type[TikTokError], args: tuple[Any, ...], state: dict[str, Any]) -> TikTokError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class TikTokError(Exception):
    """Base class of every error raised by `tiktok_etl.api`."""

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only constructors do not survive the default exception pickling
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class ApiError(TikTokError):
    """TikTok answered a request with an error code (or an unusable HTTP status)."""

    def __init__(
        self,
        endpoint: str,
        code: str,
        message: str = "",
        *,
        method: str = "",
        log_id: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.code = str(code)
        self.message = redact(message)
        self.method = method
        self.log_id = log_id
        self.http_status = http_status
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.method} {self.endpoint}" if self.method else self.endpoint
        text = f"{where} failed: {redact(self.code)}"
        if self.http_status is not None:
            text += f" (HTTP {self.http_status})"
        if self.message:
            text += f": {self.message}"
        if self.log_id:
            text += f" [log_id={redact(self.log_id)}]"
        return text


class RateLimited(ApiError):
    """Throttled (HTTP 429, Display `rate_limit_exceeded`, Business `40100`) after all retries.

    `retry_after` is the wait in seconds the server asked for, when it said so.
    """

    def __init__(
        self,
        endpoint: str,
        code: str,
        message: str = "",
        *,
        method: str = "",
        log_id: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            endpoint, code, message, method=method, log_id=log_id, http_status=http_status
        )


class TokenExpired(ApiError):
    """The access token was rejected (Display `access_token_invalid`, Business `40105`)."""


class ScopeNotAuthorized(ApiError):
    """The user did not grant a scope this call needs; only re-authorization helps."""


class ServerError(ApiError):
    """TikTok failed on its side (5xx, `50000`, `50002`, `60001`) on every attempt."""


class TransportError(TikTokError):
    """No usable answer: connection failures, timeouts or non-JSON bodies on every attempt."""

    def __init__(self, endpoint: str, message: str, *, method: str = "") -> None:
        self.endpoint = endpoint
        self.method = method
        self.message = redact(message)
        where = f"{method} {endpoint}" if method else endpoint
        super().__init__(f"{where} failed: {self.message}")


class RequestNotSendable(TikTokError):
    """The request could not be sent as built (an unsupported URL, a header value that is not
    valid HTTP): retrying cannot help. The HTTP library's own message is dropped, because it
    quotes the offending value, which is usually a corrupted access token."""

    def __init__(self, endpoint: str, reason: str, *, method: str = "") -> None:
        self.endpoint = endpoint
        self.method = method
        where = f"{method} {endpoint}" if method else endpoint
        super().__init__(f"{where} could not be sent: {reason}")


class OAuthError(TikTokError):
    """An OAuth step failed: a token endpoint error, a denied consent or a state mismatch."""

    def __init__(self, error: str, description: str = "", *, log_id: str | None = None) -> None:
        self.error = redact(error)
        self.description = redact(description)
        self.log_id = log_id
        text = f"OAuth error {self.error}"
        if self.description:
            text += f": {self.description}"
        if log_id:
            text += f" [log_id={redact(log_id)}]"
        super().__init__(text)


class ReauthRequired(OAuthError):
    """The refresh token is invalid or expired: the user must authorize the app again."""


class IncompleteListing(TikTokError):
    """A listing did not reach its true end, even when read again from the start.

    A page said `has_more` but gave a cursor already used (or none), repeated records
    already seen, or too many empty pages came in a row. Nothing may be inferred from such
    a read (no deletion, no "read up to here"); it is transient like a server error, so the
    step is retried later.
    """

    def __init__(
        self, endpoint: str, reason: str, *, cursor: int | None = None, account: str = ""
    ) -> None:
        self.endpoint = endpoint
        self.reason = redact(reason)
        self.cursor = cursor
        self.account = redact(account)
        super().__init__(self._describe())

    def _describe(self) -> str:
        who = f"account {self.account}: " if self.account else ""
        return (
            f"{who}{self.endpoint} listing incomplete at cursor {self.cursor}: {self.reason}; "
            "nothing was deleted, retry later"
        )

    def for_account(self, account: str) -> IncompleteListing:
        """The same error, naming the account whose listing it was."""
        return IncompleteListing(self.endpoint, self.reason, cursor=self.cursor, account=account)


class ResearchQuotaExhausted(ApiError):
    """The Research API's daily quota (requests or records) is spent until ``resets_at``.

    Raised when TikTok answers ``daily_quota_limit_exceeded`` or when the connector's own
    shared count says the day's budget is gone. It is not a throttle: retrying before the
    reset (00:00 UTC) cannot succeed, so it is never retried and never transient.
    """

    def __init__(
        self,
        endpoint: str,
        code: str,
        message: str = "",
        *,
        resets_at: str,
        method: str = "",
        log_id: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.resets_at = resets_at
        super().__init__(
            endpoint,
            code,
            f"{message + '; ' if message else ''}the daily Research API quota resets at "
            f"{resets_at}",
            method=method,
            log_id=log_id,
            http_status=http_status,
        )


class PostingRefused(TikTokError):
    """A post refused before or by TikTok for a reason the user can fix: the message says
    what is wrong and what is allowed (a creator's options, a limit, a missing scope)."""

    def __init__(self, message: str, *, code: str = "") -> None:
        self.code = code
        self.message = redact(message)
        super().__init__(self.message)


class MediaRejected(PostingRefused):
    """The video file breaks TikTok's documented limits; found before any request."""


class PostingLimited(PostingRefused):
    """A posting limit is spent (inits per minute, posts per day); `retry_at` says when it
    frees up, when known."""

    def __init__(self, message: str, *, code: str = "", retry_at: datetime | None = None) -> None:
        self.retry_at = retry_at
        super().__init__(message, code=code)
