"""Quarter-hour grid: boundaries as UTC epoch seconds, local days as ranges of intervals.

Every time zone's offset is a multiple of 15 minutes, so the quarter-hours of the legal local
time start exactly at the UTC epoch seconds divisible by 900: boundaries need no time zone
arithmetic. Only the grouping into local days does: a local day has 96 intervals, 92 on the
spring-forward day and 100 on the fall-back day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

STEP = 900  # seconds in a quarter-hour


def floor_boundary(epoch: int) -> int:
    """The boundary at or before `epoch`."""
    return epoch - epoch % STEP


def ceil_boundary(epoch: int) -> int:
    """The boundary at or after `epoch`."""
    return -(-epoch // STEP) * STEP


def day_range(day: date, tz: tzinfo) -> tuple[int, int]:
    """UTC epoch seconds of the local day's first boundary and of the next day's."""
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=tz)
    return int(start.timestamp()), int(end.timestamp())


def intervals_in_day(day: date, tz: tzinfo) -> int:
    """96 on a normal day, 92 on the spring-forward day, 100 on the fall-back day."""
    start, end = day_range(day, tz)
    return (end - start) // STEP


def local_day(epoch: int, tz: tzinfo) -> date:
    """The local calendar day an instant belongs to."""
    return datetime.fromtimestamp(epoch, tz).date()


def iso_utc(epoch: int) -> str:
    """`2026-03-29T01:00:00Z`."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
