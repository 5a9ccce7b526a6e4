"""Capacity tariff (Flanders, SPEC §1): monthly peaks, the 12-month mean, the meter cross-check.

Strategy: everything is derived from the settled boundary readings, never from the telegrams'
instantaneous power: a quarter-hour's average import power is its import volume × 4 (Wh per
quarter-hour → W), exactly what the tariff bills. Only intervals with a known volume (two
consecutive boundaries of the same meter series, measured or interpolated) take part, so a gap
can lower a peak but never invent one. An interval belongs to the local month of its start
(the quarter 23:45–00:00 on the last day is still that month, as the meters do it).

The meter's own figures (`1-0:1.6.0`, `0-0:98.1.0`) are in W with the meter's resolution of
1 W (kW with 3 decimals). Ours come from registers with 1 Wh resolution at each boundary, so a
volume is off by less than 1 Wh (< 4 W of power) and the meter floors its average (< 1 W):
the two agree within `PEAK_TOLERANCE_W`. Belgian meters align their quarter-hours to their own
clock, and so do we (boundaries come from the meter's timestamps), so clock drift does not move
one against the other; an interpolated boundary (a telegram missing at the boundary) can: that
shows as a mismatch, a flag to look at, never a correction.

A month our quarter-hours do not cover whole (the gateway came mid-month, a gap, the running
month) can have a lower peak than the meter's, which saw every quarter: there the meter's own
figure is the better one and is what the month counts with (`month_figure` says which source
it used); a lower partial peak of ours is then no mismatch, a higher one still is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from itertools import pairwise
from typing import Final, Literal

from edge.registers.allocation import volume
from edge.registers.model import Boundary
from edge.registers.timegrid import STEP

FLOOR_W: Final = 2500  # each monthly peak counts at least 2.5 kW in the yearly mean
WINDOW_MONTHS: Final = 12
# |ours - meter| beyond this is a disagreement: < 4 W from the 1 Wh register resolution of the
# volume, < 1 W from the meter flooring its average; see the module docstring.
PEAK_TOLERANCE_W: Final = 5
QUARTERS_PER_HOUR: Final = 3600 // STEP


@dataclass(frozen=True, slots=True)
class MonthlyPeak:
    """The highest quarter-hour average import power of one local month.

    `peak_w`/`start_utc` are None when no interval of the month has a known volume; `known`
    counts the intervals that took part, `intervals` those the month has (coverage).
    """

    month: str  # "YYYY-MM", local
    peak_w: int | None
    start_utc: int | None
    known: int
    intervals: int


def month_of(epoch: int, tz: tzinfo) -> str:
    """The local month ("YYYY-MM") an instant belongs to."""
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m")


def parse_month(text: str) -> tuple[int, int]:
    """("YYYY-MM") -> (year, month); ValueError if it is not a month."""
    year, sep, month = text.partition("-")
    if not sep or len(year) != 4 or len(month) != 2 or not (year + month).isdigit():
        raise ValueError(f"{text!r} is not a month; use YYYY-MM")
    if not 1 <= int(month) <= 12:
        raise ValueError(f"{text!r}: month {month} does not exist")
    return int(year), int(month)


def shift_month(month: str, delta: int) -> str:
    """The month `delta` months after `month` (negative: before)."""
    year, number = parse_month(month)
    index = year * 12 + number - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_range(month: str, tz: tzinfo) -> tuple[int, int]:
    """UTC epoch seconds of the month's first local midnight and of the next month's."""
    year, number = parse_month(month)
    following = parse_month(shift_month(month, 1))
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(following[0], following[1], 1, tzinfo=tz)
    return int(start.timestamp()), int(end.timestamp())


def quarter_import_w(before: Boundary, after: Boundary) -> int | None:
    """Average import power (W) of the quarter-hour between two consecutive boundaries."""
    if after.utc - before.utc != STEP:
        return None
    found = volume(before, after)
    if found is None or found.imported < 0:  # a decreasing register (R1) is no power
        return None
    return found.imported * QUARTERS_PER_HOUR


def quarter_powers(boundaries: Sequence[Boundary]) -> list[tuple[int, int]]:
    """(interval start, W) of every interval with a known import volume, in time order."""
    out = []
    for before, after in pairwise(boundaries):
        power = quarter_import_w(before, after)
        if power is not None:
            out.append((before.utc, power))
    return out


def monthly_peaks(
    powers: Iterable[tuple[int, int]], months: Iterable[str], tz: tzinfo
) -> list[MonthlyPeak]:
    """The peak of each month in `months` from (interval start, W) pairs (earliest peak wins)."""
    best: dict[str, tuple[int, int]] = {}
    known: dict[str, int] = {}
    for start, power in powers:
        month = month_of(start, tz)
        known[month] = known.get(month, 0) + 1
        current = best.get(month)
        if current is None or power > current[1]:
            best[month] = (start, power)
    out = []
    for month in months:
        first, end = month_range(month, tz)
        start_power = best.get(month)
        out.append(
            MonthlyPeak(
                month,
                start_power[1] if start_power else None,
                start_power[0] if start_power else None,
                known.get(month, 0),
                (end - first) // STEP,
            )
        )
    return out


def rolling_mean_w(
    peaks: Mapping[str, int | None], month: str, *, floor_w: int = FLOOR_W
) -> int | None:
    """Mean of the known monthly peaks of the 12 months ending with `month`, each >= `floor_w`.

    Months without a known peak are left out (a young connection averages what it has, as the
    tariff does for its first year); None when none is known. Rounded half up to a whole W.
    """
    counted = [
        max(floor_w, peak)
        for offset in range(WINDOW_MONTHS)
        if (peak := peaks.get(shift_month(month, -offset))) is not None
    ]
    if not counted:
        return None
    return (2 * sum(counted) + len(counted)) // (2 * len(counted))


def disagrees(ours: int | None, meter: int | None, tolerance: int = PEAK_TOLERANCE_W) -> bool:
    """True when both peaks are known and differ by more than the tolerance."""
    return ours is not None and meter is not None and abs(ours - meter) > tolerance


FigureSource = Literal["ours", "meter"]


@dataclass(frozen=True, slots=True)
class MonthFigure:
    """The peak a month counts with in the 12-month mean, and where it came from."""

    peak_w: int | None
    source: FigureSource | None


def covers_month(peak: MonthlyPeak) -> bool:
    """True when every quarter-hour of the month has a known volume of ours."""
    return peak.known == peak.intervals


def month_figure(ours: MonthlyPeak, meter_w: int | None) -> MonthFigure:
    """Ours where our quarter-hours cover the whole month; else the meter's own figure (it saw
    every quarter); else our partial peak, the best known (its coverage says how partial)."""
    if ours.peak_w is not None and covers_month(ours):
        return MonthFigure(ours.peak_w, "ours")
    if meter_w is not None:
        return MonthFigure(meter_w, "meter")
    if ours.peak_w is not None:
        return MonthFigure(ours.peak_w, "ours")
    return MonthFigure(None, None)


def month_disagrees(ours: MonthlyPeak, meter_w: int | None) -> bool:
    """The meter cross-check of a month: over a whole month both must agree; over part of it
    ours may be lower (a quarter we did not see), never higher than the meter's."""
    if covers_month(ours):
        return disagrees(ours.peak_w, meter_w)
    return (
        ours.peak_w is not None and meter_w is not None and ours.peak_w > meter_w + PEAK_TOLERANCE_W
    )


def history_month(reset_utc: int | None, peak_utc: int | None, tz: tzinfo) -> str | None:
    """The month a `0-0:98.1.0` entry belongs to.

    Its first time is the reset at the end of the month (the next month's first midnight), so
    the month is the one just before it; without a reset time, the peak's own month.
    """
    if reset_utc is not None:
        return month_of(reset_utc - 1, tz)
    return month_of(peak_utc, tz) if peak_utc is not None else None


class MonthPeakTracker:
    """The running month's peak of one meter, updated boundary by boundary (live use)."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.month: str | None = None
        self.peak_w: int | None = None
        self.start_utc: int | None = None
        self._prev: Boundary | None = None

    def seed(self, peak: MonthlyPeak, last: Boundary | None) -> None:
        """Start from a stored month's peak and the newest stored boundary."""
        self.month, self.peak_w, self.start_utc = peak.month, peak.peak_w, peak.start_utc
        self._prev = last

    def observe(self, boundary: Boundary) -> None:
        """Take the next settled boundary; a new month starts from nothing."""
        prev, self._prev = self._prev, boundary
        if prev is None:
            return
        power = quarter_import_w(prev, boundary)
        month = month_of(prev.utc, self.tz)
        if month != self.month:
            self.month, self.peak_w, self.start_utc = month, None, None
        if power is not None and (self.peak_w is None or power > self.peak_w):
            self.peak_w, self.start_utc = power, prev.utc

    def peak_in(self, month: str) -> int | None:
        """The peak so far if `month` is the tracked month, else None (a new month)."""
        return self.peak_w if month == self.month else None


def previous_months(month: str, count: int) -> list[str]:
    """`count` months ending with `month`, oldest first."""
    return [shift_month(month, -offset) for offset in range(count - 1, -1, -1)]
