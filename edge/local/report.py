"""Capacity-tariff figures and chart series from the store, for `peaks` and `plot`.

Strategy: read the boundaries once per allocation point (the asked months plus the 11 before,
for the rolling mean), let the pure `edge.registers.capacity` do the arithmetic, and put the
meter's own figures next to ours. For the rolling mean a month counts with the best figure known
(`month_figure`: ours over a whole month, else the meter's), and each row says which.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from itertools import pairwise

from edge.config import Config
from edge.registers import STEP, day_range, volume
from edge.registers.capacity import (
    WINDOW_MONTHS,
    FigureSource,
    month_disagrees,
    month_figure,
    month_of,
    month_range,
    monthly_peaks,
    quarter_powers,
    rolling_mean_w,
    shift_month,
)
from edge.registers.timegrid import iso_utc
from edge.store.peaks import MeterPeak, has_meter_peaks, meter_peaks
from edge.store.registers import boundaries, first_boundary, last_boundary


@dataclass(frozen=True, slots=True)
class PeakRow:
    """One allocation point's month: our peak, the meter's, the 12-month mean, coverage."""

    ap: str
    month: str
    peak_w: int | None
    peak_start_utc: int | None
    meter_peak_w: int | None
    rolling_12m_w: int | None
    known: int
    intervals: int
    counted_w: int | None = None  # the figure the month counts with in the 12-month mean
    source: FigureSource | None = None  # where `counted_w` came from: "ours" or "meter"
    mismatch: bool = False  # our peak and the meter's differ beyond rounding

    def as_json(self) -> dict[str, object]:
        """The `peaks --format json` object (exactly these keys)."""
        start = self.peak_start_utc
        return {
            "ap": self.ap,
            "month": self.month,
            "peak_w": self.peak_w,
            "peak_start_utc": iso_utc(start) if start is not None else None,
            "meter_peak_w": self.meter_peak_w,
            "rolling_12m_w": self.rolling_12m_w,
            "counted_w": self.counted_w,
            "source": self.source,
        }


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last`, inclusive."""
    out = [first]
    while out[-1] < last:
        out.append(shift_month(out[-1], 1))
    return out


def _stored_months(
    conn: sqlite3.Connection, ap: str, tz: tzinfo, meter: dict[tuple[str, str], MeterPeak]
) -> list[str]:
    found = {month for (point, month) in meter if point == ap}
    first, last = first_boundary(conn, ap), last_boundary(conn, ap)
    if first is not None and last is not None and last > first:
        found |= set(months_between(month_of(first, tz), month_of(last - 1, tz)))
    return sorted(found)


def peak_rows(
    conn: sqlite3.Connection, config: Config, tz: tzinfo, months: Sequence[str] | None = None
) -> list[PeakRow]:
    """Rows for every allocation point and month (`months`, or every month with data)."""
    meter = {(p.ap, p.month): p for p in meter_peaks(conn)} if has_meter_peaks(conn) else {}
    rows: list[PeakRow] = []
    for point in config.points:
        wanted = list(months) if months else _stored_months(conn, point.ean, tz, meter)
        if wanted:
            rows += _point_rows(conn, point.ean, wanted, tz, meter)
    return rows


def _point_rows(
    conn: sqlite3.Connection,
    ap: str,
    wanted: list[str],
    tz: tzinfo,
    meter: dict[tuple[str, str], MeterPeak],
) -> list[PeakRow]:
    first = shift_month(min(wanted), 1 - WINDOW_MONTHS)
    start, end = month_range(first, tz)[0], month_range(max(wanted), tz)[1]
    powers = quarter_powers(boundaries(conn, ap, start, end))
    peaks = {p.month: p for p in monthly_peaks(powers, months_between(first, max(wanted)), tz)}
    figures = {
        month: month_figure(peak, _meter_w(meter.get((ap, month)))) for month, peak in peaks.items()
    }
    best = {month: figure.peak_w for month, figure in figures.items()}
    rows = []
    for month in wanted:
        peak, theirs = peaks[month], _meter_w(meter.get((ap, month)))
        rows.append(
            PeakRow(
                ap, month, peak.peak_w, peak.start_utc, theirs,
                rolling_mean_w(best, month), peak.known, peak.intervals,
                figures[month].peak_w, figures[month].source, month_disagrees(peak, theirs),
            )
        )  # fmt: skip
    return rows


def _meter_w(peak: MeterPeak | None) -> int | None:
    return peak.peak_w if peak is not None else None


@dataclass(frozen=True, slots=True)
class QuarterSeries:
    """A day's quarter-hours of one point: start times, import and export W (None: unknown)."""

    starts: list[int]
    import_w: list[int | None]
    export_w: list[int | None]


def day_series(conn: sqlite3.Connection, ap: str, day: date, tz: tzinfo) -> QuarterSeries:
    """Average import and export power of every quarter-hour of a local day."""
    start, end = day_range(day, tz)
    found = {b.utc: b for b in boundaries(conn, ap, start, end)}
    series = QuarterSeries([], [], [])
    for left, right in pairwise(range(start, end + STEP, STEP)):
        series.starts.append(left)
        before, after = found.get(left), found.get(right)
        vol = volume(before, after) if before is not None and after is not None else None
        series.import_w.append(vol.imported * 4 if vol is not None else None)
        series.export_w.append(vol.exported * 4 if vol is not None else None)
    return series


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One local day of a month: energy in and out (Wh) and its highest quarter (W)."""

    day: date
    import_wh: int
    export_wh: int
    peak_w: int | None
    known: int = 0  # quarter-hours with a volume
    quarters: int = 96  # quarter-hours of the local day (92/100 on DST days)


def month_days(conn: sqlite3.Connection, ap: str, month: str, tz: tzinfo) -> list[DaySummary]:
    """Per local day of `month`: the known energy and the highest quarter-hour power."""
    end = month_range(month, tz)[1]
    first = date.fromisoformat(month + "-01")
    out = []
    day = first
    while day_range(day, tz)[0] < end:
        series = day_series(conn, ap, day, tz)
        imports = [w for w in series.import_w if w is not None]
        exports = [w for w in series.export_w if w is not None]
        out.append(
            DaySummary(
                day,
                sum(imports) // 4,
                sum(exports) // 4,
                max(imports, default=None),
                known=len(imports),
                quarters=len(series.import_w),
            )
        )
        day += timedelta(days=1)
    return out
