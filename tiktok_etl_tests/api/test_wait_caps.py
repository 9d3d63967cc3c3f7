"""Every wait the server asks for, and every wait in the limiter, fits in the retry cap.

`RetryPolicy.max_total_wait` (`TIKTOK_ETL_MAX_RETRY_SECONDS`) bounds what one request may
spend waiting: backoff, `Retry-After` / `X-Rate-Limit-Reset` from a success or an error, and
time held in the rate limiter. A wait that would go past it fails at once with `RateLimited`
(retryable at the step level), saying what the server asked for and what the cap is.
Time is a `ManualClock` shared by the transport and the limiter: nothing here really sleeps.
"""

from __future__ import annotations

import pickle
import random

import httpx
import pytest
import respx

from tiktok_etl.api import (
    DisplayOAuth,
    ManualClock,
    RateLimited,
    RetryPolicy,
    ServerError,
    SlidingWindowLimiter,
    Transport,
)
from tiktok_etl.api.business_envelope import classify_business
from tiktok_etl.api.display_envelope import classify_display

from .conftest import (
    AUTHORIZE,
    BUSINESS,
    DISPLAY,
    business_error,
    business_ok,
    display_error,
    display_ok,
)

VIDEO_LIST = "/v2/video/list/"
URL = DISPLAY + VIDEO_LIST
BIZ_ENDPOINT = "business/video/list/"
BIZ_URL = f"{BUSINESS}/{BIZ_ENDPOINT}"
CAP = 300.0
A_DAY = 86_400


def capped_transport(
    clock: ManualClock,
    *,
    limit: int = 600,
    cap: float = CAP,
    cap_name: str = "max_total_wait",
    base_delay: float = 0.5,
) -> Transport:
    """A transport and a limiter on one manual clock, so every wait shows up in `clock`."""
    limiter = SlidingWindowLimiter(default_limit=limit, window_seconds=60.0, clock=clock)
    retry = RetryPolicy(
        max_total_wait=cap, base_delay=base_delay, cap_name=cap_name, rng=random.Random(5)
    )
    return Transport(clock=clock, limiter=limiter, retry=retry)


def send_display(transport: Transport) -> object:
    return transport.send(
        "POST", URL, endpoint=VIDEO_LIST, classify=classify_display, json={}
    ).payload


def elapsed(clock: ManualClock, since: float) -> float:
    return clock.monotonic() - since


def test_a_retry_after_of_a_day_on_a_success_pauses_the_endpoint_at_most_the_cap(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    first = display_ok({"page": 1})
    first.headers["Retry-After"] = str(A_DAY)
    api.post(URL).mock(side_effect=[first, display_ok({"page": 2})])
    transport = capped_transport(clock)
    start = clock.monotonic()

    assert send_display(transport) == {"page": 1}
    assert send_display(transport) == {"page": 2}

    assert sum(clock.sleeps) <= CAP
    assert elapsed(clock, start) <= CAP
    assert api.calls.call_count == 2


def test_a_rate_limit_reset_a_day_ahead_on_a_success_pauses_at_most_the_cap(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    first = display_ok({"page": 1})
    first.headers.update(
        {
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": str(int(clock.now().timestamp()) + A_DAY),
        }
    )
    api.post(URL).mock(side_effect=[first, display_ok({"page": 2})])
    transport = capped_transport(clock)
    start = clock.monotonic()

    send_display(transport)
    assert send_display(transport) == {"page": 2}

    assert elapsed(clock, start) <= CAP


def test_a_429_asking_beyond_the_cap_fails_at_once_saying_what_was_asked_and_the_cap(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    throttled = display_error(429, "rate_limit_exceeded", log_id="LOG-429")
    throttled.headers["Retry-After"] = str(A_DAY)
    api.post(URL).mock(return_value=throttled)
    transport = capped_transport(clock)

    with pytest.raises(RateLimited) as caught:
        send_display(transport)

    error = caught.value
    assert clock.sleeps == []
    assert api.calls.call_count == 1
    assert error.retry_after == float(A_DAY)
    assert error.code == "rate_limit_exceeded"
    assert error.log_id == "LOG-429"
    assert "86400s" in str(error)
    assert "300s" in str(error)
    assert "Retry-After" in str(error)


def test_the_cap_is_named_by_the_setting_the_operator_changes(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    throttled = display_error(429, "rate_limit_exceeded")
    throttled.headers["Retry-After"] = str(A_DAY)
    api.post(URL).mock(return_value=throttled)
    transport = capped_transport(clock, cap_name="TIKTOK_ETL_MAX_RETRY_SECONDS")

    with pytest.raises(RateLimited, match="TIKTOK_ETL_MAX_RETRY_SECONDS"):
        send_display(transport)


def test_a_maintenance_answer_asking_beyond_the_cap_fails_fast_as_rate_limited(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    maintenance = business_error(60001, "maintenance", status=503)
    maintenance.headers["Retry-After"] = str(A_DAY)
    api.get(BIZ_URL).mock(return_value=maintenance)
    transport = capped_transport(clock)

    with pytest.raises(RateLimited) as caught:
        transport.send("GET", BIZ_URL, endpoint=BIZ_ENDPOINT, classify=classify_business)

    assert isinstance(caught.value.__cause__, ServerError)
    assert caught.value.code == "60001"
    assert clock.sleeps == []


def test_an_oauth_429_asking_beyond_the_cap_is_a_retryable_rate_limit(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    throttled = httpx.Response(429, json={"error": "rate_limit_exceeded", "log_id": "L"})
    throttled.headers["Retry-After"] = str(A_DAY)
    api.post(f"{DISPLAY}/v2/oauth/token/").mock(return_value=throttled)
    oauth = DisplayOAuth(
        capped_transport(clock),
        "client-key",
        "client-secret",
        api_base_url=DISPLAY,
        authorize_url=AUTHORIZE,
    )

    with pytest.raises(RateLimited):
        oauth.refresh("rft.refresh")

    assert clock.sleeps == []


def test_limiter_waits_and_backoff_together_never_exceed_the_cap(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    """One request a minute, a failing server: each retry would wait ~60 s in the limiter."""
    api.post(URL).mock(return_value=display_error(500, "internal_error"))
    transport = capped_transport(clock, limit=1, cap=100.0, base_delay=1.0)
    start = clock.monotonic()

    with pytest.raises((RateLimited, ServerError)):
        send_display(transport)

    assert elapsed(clock, start) <= 100.0
    assert sum(clock.sleeps) <= 100.0
    assert api.calls.call_count >= 2


def test_an_endpoint_paused_beyond_the_cap_fails_without_waiting(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    api.post(URL).mock(return_value=display_ok({}))
    transport = capped_transport(clock, cap=60.0)
    transport.limiter.penalize(VIDEO_LIST, 200.0)

    with pytest.raises(RateLimited) as caught:
        send_display(transport)

    assert clock.sleeps == []
    assert api.calls.call_count == 0
    assert "60s" in str(caught.value)
    assert caught.value.retry_after == pytest.approx(200.0)


def test_a_limiter_wait_within_the_cap_is_still_served(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    api.post(URL).mock(return_value=display_ok({"ok": 1}))
    transport = capped_transport(clock, cap=60.0)
    transport.limiter.penalize(VIDEO_LIST, 45.0)

    assert send_display(transport) == {"ok": 1}
    assert sum(clock.sleeps) == pytest.approx(45.0)


def test_a_retry_after_within_the_cap_on_a_success_is_honoured_in_full(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    first = business_ok({"page": 1})
    first.headers["Retry-After"] = "40"
    api.get(BIZ_URL).mock(side_effect=[first, business_ok({"page": 2})])
    transport = capped_transport(clock)
    start = clock.monotonic()

    for _ in range(2):
        transport.send("GET", BIZ_URL, endpoint=BIZ_ENDPOINT, classify=classify_business)

    assert elapsed(clock, start) == pytest.approx(40.0)


def test_the_wait_capped_error_survives_pickling(api: respx.MockRouter, clock: ManualClock) -> None:
    throttled = display_error(429, "rate_limit_exceeded")
    throttled.headers["Retry-After"] = str(A_DAY)
    api.post(URL).mock(return_value=throttled)

    with pytest.raises(RateLimited) as caught:
        send_display(capped_transport(clock))

    restored = pickle.loads(pickle.dumps(caught.value))
    assert str(restored) == str(caught.value)
    assert restored.retry_after == float(A_DAY)
