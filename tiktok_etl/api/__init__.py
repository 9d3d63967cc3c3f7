"""TikTok HTTP clients: a library usable on its own, without Dagster or storage.

One `Transport` (connection pool, rate limiter, retries) serves the Display API
client (`DisplayClient`), the Business API client (`BusinessClient`) and both
OAuth flows (`DisplayOAuth`, `BusinessOAuth`). Records come back as typed,
lossless models; errors as typed exceptions that never contain secrets.
"""

from tiktok_etl.api.bearer import StaticTokenProvider, TokenProvider, call_with_refresh
from tiktok_etl.api.business import BusinessClient, CommentRequest
from tiktok_etl.api.clock import Clock, ManualClock, SystemClock
from tiktok_etl.api.display import DisplayClient, user_fields_for_scopes
from tiktok_etl.api.errors import (
    ApiError,
    IncompleteListing,
    OAuthError,
    RateLimited,
    ReauthRequired,
    RequestNotSendable,
    ScopeNotAuthorized,
    ServerError,
    TikTokError,
    TokenExpired,
    TransportError,
)
from tiktok_etl.api.models import (
    BusinessComment,
    BusinessUser,
    BusinessVideo,
    DisplayUser,
    DisplayVideo,
    TikTokRecord,
)
from tiktok_etl.api.oauth import BusinessOAuth, DisplayOAuth, TokenResponse, parse_callback
from tiktok_etl.api.outcome import Outcome
from tiktok_etl.api.pagination import (
    FetchResult,
    Page,
    RejectedRecord,
    collect,
    collect_complete,
    iter_pages,
)
from tiktok_etl.api.pkce import PkcePair, new_state
from tiktok_etl.api.ratelimit import RateLimiter, SlidingWindowLimiter, Slot, UnlimitedLimiter
from tiktok_etl.api.redaction import redact
from tiktok_etl.api.transport import Reply, RequestStats, RetryPolicy, Transport

__all__ = [
    "ApiError",
    "BusinessClient",
    "BusinessComment",
    "BusinessOAuth",
    "BusinessUser",
    "BusinessVideo",
    "Clock",
    "CommentRequest",
    "DisplayClient",
    "DisplayOAuth",
    "DisplayUser",
    "DisplayVideo",
    "FetchResult",
    "IncompleteListing",
    "ManualClock",
    "OAuthError",
    "Outcome",
    "Page",
    "PkcePair",
    "RateLimited",
    "RateLimiter",
    "ReauthRequired",
    "RejectedRecord",
    "Reply",
    "RequestNotSendable",
    "RequestStats",
    "RetryPolicy",
    "ScopeNotAuthorized",
    "ServerError",
    "SlidingWindowLimiter",
    "Slot",
    "StaticTokenProvider",
    "SystemClock",
    "TikTokError",
    "TikTokRecord",
    "TokenExpired",
    "TokenProvider",
    "TokenResponse",
    "Transport",
    "TransportError",
    "UnlimitedLimiter",
    "call_with_refresh",
    "collect",
    "collect_complete",
    "iter_pages",
    "new_state",
    "parse_callback",
    "redact",
    "user_fields_for_scopes",
]
