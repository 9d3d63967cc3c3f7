"""ManualClock: simulated time that moves only on sleep or advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tiktok_etl.api import Clock, ManualClock, SystemClock


def test_sleep_advances_both_clocks_and_is_recorded() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    clock = ManualClock(start=start, monotonic_start=10.0)

    clock.sleep(2.5)
    clock.advance(1.0)

    assert clock.monotonic() == pytest.approx(13.5)
    assert clock.now() == start + timedelta(seconds=3.5)
    assert clock.sleeps == [2.5]


def test_manual_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError):
        ManualClock(start=datetime(2026, 3, 1))


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(ManualClock(), Clock)
    assert isinstance(SystemClock(), Clock)
    assert SystemClock().now().tzinfo is not None
