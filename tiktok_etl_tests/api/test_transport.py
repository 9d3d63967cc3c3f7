"""Transport: retries, backoff with full jitter, server-requested waits, limits, stats."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from tiktok_etl.api import (
    ApiError,
    ManualClock,
    RateLimited,
    RetryPolicy,
    ServerError,
    SlidingWindowLimiter,
    TokenExpired,
    Transport,
    TransportError,
)
from tiktok_etl.api.business_envelope import classify_business
from tiktok_etl.api.display_envelope import classify_display
from tiktok_etl.api.ratelimit import Slot

from .conftest import BUSINESS, DISPLAY, business_error, business_ok, display_error, display_ok

VIDEO_LIST = "/v2/video/list/"
URL = DISPLAY + VIDEO_LIST
BIZ_ENDPOINT = "business/video/list/"
BIZ_URL = f"{BUSINESS}/{BIZ_ENDPOINT}"

HTML_504 = httpx.Response(
    504,
    text="<html><body>504 Gateway Time-out</body></html>",
    headers={"content-type": "text/html"},
)


class SpyLimiter:
    """Records acquisitions, releases and penalties, in order."""

    def __init__(self) -> None:
        self.acquired: list[str] = []
        self.penalties: list[tuple[str, float]] = []
        self.events: list[str] = []

    def acquire(self, endpoint: str, max_wait: float | None = None) -> Slot:
        self.acquired.append(endpoint)
        self.events.append("acquire")
        return Slot(endpoint, lambda: self.events.append("release"))

    def penalize(self, endpoint: str, seconds: float) -> None:
        self.penalties.append((endpoint, seconds))
        self.events.append("penalize")


def send_display(transport: Transport, **kwargs: object) -> object:
    return transport.send(
        "POST", URL, endpoint=VIDEO_LIST, classify=classify_display, json={}, **kwargs
    ).payload


def test_success_returns_the_envelope_data(api: respx.MockRouter, transport: Transport) -> None:
    api.post(URL).mock(return_value=display_ok({"videos": []}))

    assert send_display(transport) == {"videos": []}
    assert transport.stats.snapshot()["requests"] == 1


def test_retry_delays_use_full_jitter_with_exponential_caps(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    api.post(URL).mock(return_value=display_error(500, "internal_error"))
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=4.0, rng=random.Random(42))
    transport = Transport(clock=clock, retry=policy)

    with pytest.raises(ServerError):
        send_display(transport)

    reference = random.Random(42)
    caps = [min(4.0, 0.5 * 2**n) for n in range(5)]
    assert clock.sleeps == [reference.uniform(0, cap) for cap in caps]
    assert all(0 <= delay <= cap for delay, cap in zip(clock.sleeps, caps, strict=True))
    assert api.calls.call_count == 6


def test_exhausted_retries_raise_the_typed_error_with_its_details(
    api: respx.MockRouter, transport: Transport
) -> None:
    api.post(URL).mock(return_value=display_error(429, "rate_limit_exceeded", log_id="LOG9"))

    with pytest.raises(RateLimited) as caught:
        send_display(transport)

    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.http_status == 429
    assert caught.value.log_id == "LOG9"
    assert api.calls.call_count == 4
    assert transport.stats.rate_limited == 4
    assert transport.stats.retries == 3


def test_retry_after_seconds_is_honoured_beyond_max_delay(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    throttled = display_error(429, "rate_limit_exceeded")
    throttled.headers["Retry-After"] = "45"
    api.post(URL).mock(side_effect=[throttled, display_ok({})])
    transport = Transport(clock=clock, retry=RetryPolicy(max_delay=2.0, rng=random.Random(1)))

    send_display(transport)

    assert clock.sleeps == [45.0]


def test_retry_after_http_date_is_honoured(api: respx.MockRouter, clock: ManualClock) -> None:
    throttled = display_error(429, "rate_limit_exceeded")
    throttled.headers["Retry-After"] = format_datetime(
        clock.now() + timedelta(seconds=20), usegmt=True
    )
    api.post(URL).mock(side_effect=[throttled, display_ok({})])
    transport = Transport(clock=clock, retry=RetryPolicy(rng=random.Random(1)))

    send_display(transport)

    assert clock.sleeps == [pytest.approx(20.0)]


def test_rate_limit_reset_header_is_honoured_when_remaining_is_zero(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    throttled = display_error(429, "rate_limit_exceeded")
    throttled.headers.update({"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "12"})
    api.post(URL).mock(side_effect=[throttled, display_ok({})])
    transport = Transport(clock=clock, retry=RetryPolicy(max_delay=1.0, rng=random.Random(1)))

    send_display(transport)

    assert clock.sleeps == [12.0]


def test_server_wait_beyond_the_total_cap_fails_at_once(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    throttled = display_error(429, "rate_limit_exceeded")
    throttled.headers["Retry-After"] = "86400"
    api.post(URL).mock(return_value=throttled)
    transport = Transport(clock=clock, retry=RetryPolicy(max_total_wait=300.0))

    with pytest.raises(RateLimited) as caught:
        send_display(transport)

    assert caught.value.retry_after == 86400.0
    assert clock.sleeps == []
    assert api.calls.call_count == 1


def test_total_wait_never_exceeds_the_cap(api: respx.MockRouter, clock: ManualClock) -> None:
    api.post(URL).mock(return_value=display_error(500, "internal_error"))
    policy = RetryPolicy(
        max_attempts=100, base_delay=10.0, max_delay=10.0, max_total_wait=35.0, rng=random.Random(3)
    )
    transport = Transport(clock=clock, retry=policy)

    with pytest.raises(ServerError):
        send_display(transport)

    assert sum(clock.sleeps) <= 35.0
    assert api.calls.call_count == len(clock.sleeps) + 1


def test_throttling_pushes_back_the_limiter(api: respx.MockRouter, clock: ManualClock) -> None:
    throttled = display_error(429, "rate_limit_exceeded")
    throttled.headers["Retry-After"] = "5"
    api.post(URL).mock(side_effect=[throttled, display_ok({})])
    limiter = SpyLimiter()
    transport = Transport(clock=clock, limiter=limiter, retry=RetryPolicy(rng=random.Random(1)))

    send_display(transport)

    assert limiter.acquired == [VIDEO_LIST, VIDEO_LIST]
    assert limiter.penalties == [(VIDEO_LIST, 5.0)]
    assert limiter.events == ["acquire", "release", "penalize", "acquire", "release"]


def test_exhausted_remaining_budget_on_success_pushes_back_the_limiter(
    api: respx.MockRouter, clock: ManualClock
) -> None:
    ok = display_ok({})
    ok.headers.update({"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "30"})
    api.post(URL).mock(return_value=ok)
    limiter = SpyLimiter()

    send_display(Transport(clock=clock, limiter=limiter))

    assert limiter.penalties == [(VIDEO_LIST, 30.0)]


@pytest.mark.parametrize(
    "failures",
    [
        [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), display_ok({})],
        [httpx.RemoteProtocolError("dropped"), display_error(500, "internal_error")] * 2,
        [display_error(429, "rate_limit_exceeded")] * 4,
        [display_error(400, "invalid_params")],
        [httpx.ReadTimeout("slow")],  # not idempotent: raised at once
        [httpx.UnsupportedProtocol("ftp://")],
        [RuntimeError("a bug below the transport")],
    ],
    ids=["retried", "retries-exhausted", "throttled", "final", "timeout", "hopeless", "bug"],
)
def test_every_attempt_releases_its_slot_whatever_happens(
    api: respx.MockRouter, clock: ManualClock, failures: list[object]
) -> None:
    api.post(URL).mock(side_effect=failures)
    limiter = SpyLimiter()
    transport = Transport(
        clock=clock, limiter=limiter, retry=RetryPolicy(max_attempts=4, rng=random.Random(3))
    )

    with contextlib.suppress(Exception):
        send_display(transport, idempotent=len(failures) > 1)

    attempts = api.calls.call_count
    assert attempts >= 1
    assert [event for event in limiter.events if event != "penalize"] == [
        "acquire",
        "release",
    ] * attempts


def test_a_slot_is_held_for_the_whole_round_trip(api: respx.MockRouter, clock: ManualClock) -> None:
    """Limit 1 a minute, a first answer 20 s in coming: the second request waits until 80 s."""
    limiter = SlidingWindowLimiter(default_limit=1, window_seconds=60.0, clock=clock)
    started: list[float] = []

    def slow_server(request: httpx.Request) -> httpx.Response:
        started.append(clock.monotonic())
        assert limiter.in_flight(VIDEO_LIST) == 1
        clock.advance(20.0)
        if len(started) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return display_ok({})

    api.post(URL).mock(side_effect=slow_server)
    transport = Transport(
        clock=clock, limiter=limiter, retry=RetryPolicy(base_delay=0.0, rng=random.Random(1))
    )

    send_display(transport)

    assert [when - started[0] for when in started] == [0.0, pytest.approx(80.0)]
    assert limiter.in_flight(VIDEO_LIST) == 0


def test_html_504_from_a_proxy_is_retried(api: respx.MockRouter, transport: Transport) -> None:
    api.post(URL).mock(side_effect=[HTML_504, display_ok({"videos": []})])

    assert send_display(transport) == {"videos": []}
    assert api.calls.call_count == 2


def test_html_504_on_every_attempt_raises_server_error(
    api: respx.MockRouter, transport: Transport
) -> None:
    api.post(URL).mock(return_value=HTML_504)

    with pytest.raises(ServerError) as caught:
        send_display(transport)

    assert caught.value.code == "http_504"
    assert "non-JSON body (text/html" in str(caught.value)


def test_non_json_200_is_retried(api: respx.MockRouter, transport: Transport) -> None:
    api.post(URL).mock(side_effect=[httpx.Response(200, text="not json"), display_ok({"x": 1})])

    assert send_display(transport) == {"x": 1}


def test_non_json_200_on_every_attempt_raises_transport_error(
    api: respx.MockRouter, transport: Transport
) -> None:
    api.post(URL).mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))

    with pytest.raises(TransportError):
        send_display(transport)
    assert api.calls.call_count == 4


@pytest.mark.parametrize(
    "failure",
    [
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("timed out"),
        httpx.ReadError("connection reset"),
        httpx.ConnectError("connection refused"),
    ],
    ids=["dropped", "read-timeout", "read-error", "connect-error"],
)
def test_transport_failures_are_retried_then_succeed(
    api: respx.MockRouter, transport: Transport, failure: Exception
) -> None:
    api.post(URL).mock(side_effect=[failure, display_ok({"ok": True})])

    assert send_display(transport) == {"ok": True}
    assert transport.stats.retries == 1


def test_transport_failures_on_every_attempt_raise_transport_error(
    api: respx.MockRouter, transport: Transport
) -> None:
    api.post(URL).mock(side_effect=httpx.ConnectError("connection refused"))

    with pytest.raises(TransportError) as caught:
        send_display(transport)

    assert caught.value.endpoint == VIDEO_LIST
    assert "ConnectError" in str(caught.value)
    assert api.calls.call_count == 4


@pytest.mark.parametrize(
    ("response", "error_type"),
    [
        (display_error(400, "invalid_params"), ApiError),
        (display_error(401, "access_token_invalid"), TokenExpired),
        (httpx.Response(404, text="not found"), ApiError),
    ],
    ids=["invalid-params", "token", "html-404"],
)
def test_client_errors_are_not_retried(
    api: respx.MockRouter, transport: Transport, response: httpx.Response, error_type: type
) -> None:
    api.post(URL).mock(return_value=response)

    with pytest.raises(error_type):
        send_display(transport)

    assert api.calls.call_count == 1


def test_business_throttle_on_http_200_is_retried(
    api: respx.MockRouter, transport: Transport
) -> None:
    api.get(BIZ_URL).mock(side_effect=[business_error(40100), business_ok({"videos": []})])

    reply = transport.send("GET", BIZ_URL, endpoint=BIZ_ENDPOINT, classify=classify_business)

    assert reply.payload == {"videos": []}
    assert reply.attempts == 2
    assert transport.stats.rate_limited == 1


def test_non_idempotent_request_is_not_retried_after_a_timeout(
    api: respx.MockRouter, transport: Transport
) -> None:
    api.post(URL).mock(side_effect=[httpx.ReadTimeout("timed out"), display_ok({})])

    with pytest.raises(TransportError):
        send_display(transport, idempotent=False)

    assert api.calls.call_count == 1


def test_non_idempotent_request_is_not_retried_after_a_500(
    api: respx.MockRouter, transport: Transport
) -> None:
    api.post(URL).mock(side_effect=[display_error(500, "internal_error"), display_ok({})])

    with pytest.raises(ServerError):
        send_display(transport, idempotent=False)

    assert api.calls.call_count == 1


@pytest.mark.parametrize(
    "first",
    [
        display_error(429, "rate_limit_exceeded"),
        httpx.Response(503, text="unavailable"),
        httpx.ConnectError("connection refused"),
    ],
    ids=["429", "503", "never-connected"],
)
def test_non_idempotent_request_is_retried_when_the_server_did_not_act(
    api: respx.MockRouter, transport: Transport, first: object
) -> None:
    api.post(URL).mock(side_effect=[first, display_ok({"done": 1})])

    assert send_display(transport, idempotent=False) == {"done": 1}


def test_stats_count_requests_retries_and_endpoints(
    api: respx.MockRouter, transport: Transport
) -> None:
    api.post(URL).mock(side_effect=[display_error(429, "rate_limit_exceeded"), display_ok({})])
    api.get(BIZ_URL).mock(return_value=business_ok({}))

    send_display(transport)
    transport.send("GET", BIZ_URL, endpoint=BIZ_ENDPOINT, classify=classify_business)

    assert transport.stats.snapshot() == {
        "requests": 3,
        "retries": 1,
        "pages": 0,
        "rate_limited": 1,
        "by_endpoint": {VIDEO_LIST: 2, BIZ_ENDPOINT: 1},
    }


def test_requests_carry_the_user_agent(api: respx.MockRouter, transport: Transport) -> None:
    route = api.post(URL).mock(return_value=display_ok({}))

    send_display(transport)

    assert route.calls.last.request.headers["User-Agent"].startswith("tiktok-etl/")


def test_an_injected_client_is_used_and_left_open(api: respx.MockRouter) -> None:
    api.post(URL).mock(return_value=display_ok({}))
    client = httpx.Client(headers={"User-Agent": "custom/1"})

    with Transport(client=client) as transport:
        send_display(transport)

    assert not client.is_closed
    client.close()


def test_closing_the_transport_closes_its_own_client() -> None:
    transport = Transport()

    transport.close()

    assert transport._client.is_closed
