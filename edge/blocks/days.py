"""The calendar of a local day: where it starts in UTC and how many quarter-hours it has.

Strategy: a local day runs from local midnight to the next local midnight; both are converted to
UTC through the zone database, so DST days come out as 92 or 100 quarter-hours without any
special case. Results are cached because the verifier asks for the same few days thousands of
times a second.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge.errors import BlockError

STEP_SECONDS = 900
VALID_INTERVAL_COUNTS = (92, 96, 100)


@lru_cache(maxsize=8192)
def day_layout(day: date, tz: str) -> tuple[datetime, int]:
    """Return (UTC start, number of 15-minute intervals) of local `day` in zone `tz`.

    Raises `BlockError` for an unknown zone.
    """
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BlockError(f"unknown time zone {tz!r}") from exc
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, int((end - start).total_seconds()) // STEP_SECONDS


def utc_text(moment: datetime) -> str:
    """Format an aware datetime as the block format's UTC text, e.g. ``2026-03-28T23:00:00Z``.

    Whole seconds only: the text is signed, so one spelling per instant keeps it deterministic.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BlockError(f"naive datetime {moment!r}: pass an aware (UTC) datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
