"""Time-window arithmetic shared by the window readers: half-open UTC intervals.

A window `[start, end)` holds a record when `start <= create_time < end`, so
consecutive daily windows never share or drop a record on their boundary.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_window(start: datetime, end: datetime | None) -> None:
    if start.tzinfo is None or (end is not None and end.tzinfo is None):
        raise ValueError("window bounds must be timezone-aware datetimes")
    if end is not None and end <= start:
        raise ValueError("window end must be after its start")


def in_window(moment: datetime, start: datetime, end: datetime | None) -> bool:
    return start <= moment and (end is None or moment < end)


def to_epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, exact (no float rounding)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)
