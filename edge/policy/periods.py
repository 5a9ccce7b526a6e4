"""Local calendar days and months, and their spans as UTC instants.

Strategy: every policy rule speaks of *local* calendar days (the meter's legal time), but every
comparison is made between aware UTC instants. A day is the span from its local midnight to the
next local midnight, so the 23-hour and 25-hour DST days need no special case anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)


def require_aware(value: datetime, name: str) -> datetime:
    """Return `value` in UTC; a naive datetime is refused because it has no place in time."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The local calendar date of an aware instant in `tz`."""
    return require_aware(instant, "instant").astimezone(tz).date()


def wall_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local wall time `wall` on `day`.

    fold=0 makes both DST anomalies deterministic: a wall time skipped by spring-forward lands
    just past the gap (02:30 → 03:30 CEST), an ambiguous one (fall-back) on its first occurrence.
    """
    return datetime.combine(day, wall.replace(fold=0), tzinfo=tz).astimezone(UTC)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which local `day` begins."""
    return wall_instant(day, time(0), tz)


def month_start(day: date) -> date:
    """The first day of the month that contains `day`."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after the one that contains `day`."""
    return (month_start(day) + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A run of whole local days, `first` through `last` inclusive: one day or one month.

    A day block covers `Period(d, d)`; a monthly register-reading block covers the month
    `Period(first_of_month, last_of_month)`.
    """

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"period ends ({self.last}) before it starts ({self.first})")

    @classmethod
    def day(cls, day: date) -> Period:
        """The period of one local day."""
        return cls(day, day)

    @classmethod
    def month(cls, day: date) -> Period:
        """The calendar month that contains `day`."""
        return cls(month_start(day), next_month(day) - ONE_DAY)

    @property
    def is_day(self) -> bool:
        """True for a single day."""
        return self.first == self.last

    def span(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """UTC start and end (the next local midnight) of the period; end is exclusive."""
        return local_midnight(self.first, tz), local_midnight(self.last + ONE_DAY, tz)

    def days(self) -> Iterator[date]:
        """Every local date in the period."""
        day = self.first
        while day <= self.last:
            yield day
            day += ONE_DAY

    def __str__(self) -> str:
        if self.is_day:
            return self.first.isoformat()
        if self == Period.month(self.first):
            return self.first.strftime("%Y-%m")
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


def day_periods(lowest: date, before: date) -> list[Period]:
    """One period per day from `lowest` up to, not including, `before`."""
    count = (before - lowest).days
    return [Period.day(lowest + ONE_DAY * i) for i in range(max(0, count))]


def month_periods(lowest: date, before: date) -> list[Period]:
    """Every calendar month whose last day lies in [`lowest`, `before`)."""
    periods: list[Period] = []
    month = Period.month(lowest)
    while month.last < before:
        periods.append(month)
        month = Period.month(month.last + ONE_DAY)
    return periods
