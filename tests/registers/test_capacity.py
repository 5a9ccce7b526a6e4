"""The capacity tariff's arithmetic: monthly peaks, local months and DST, the 2.5 kW floor,
the 12-month window, the meter cross-check and its history entries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from edge.registers import STEP, Boundary
from edge.registers.capacity import (
    PEAK_TOLERANCE_W,
    MonthFigure,
    MonthlyPeak,
    MonthPeakTracker,
    disagrees,
    history_month,
    month_disagrees,
    month_figure,
    month_of,
    month_range,
    monthly_peaks,
    parse_month,
    previous_months,
    quarter_import_w,
    quarter_powers,
    rolling_mean_w,
    shift_month,
)

BRUSSELS = ZoneInfo("Europe/Brussels")


def local(*args: int) -> int:
    return int(datetime(*args, tzinfo=BRUSSELS).timestamp())  # type: ignore[misc]


def series(start: int, wh_per_quarter: list[int | None], *, series_id: int = 0) -> list[Boundary]:
    """Boundaries from `start`, each quarter importing the given Wh (None: a missing boundary
    after it)."""
    total = 1_000_000
    out = [Boundary(start, "measured", (total, 0, 0, 0), "M", series_id)]
    for i, wh in enumerate(wh_per_quarter):
        t = start + (i + 1) * STEP
        if wh is None:
            out.append(Boundary(t, "missing", None, "M", series_id))
            continue
        total += wh
        out.append(Boundary(t, "measured", (total, 0, 0, 0), "M", series_id))
    return out


def test_quarter_power_is_volume_times_four_and_needs_two_consecutive_known_boundaries() -> None:
    b = series(local(2026, 3, 2), [1000, None, 500])
    assert quarter_import_w(b[0], b[1]) == 4000
    assert quarter_import_w(b[1], b[2]) is None  # missing boundary
    assert quarter_import_w(b[2], b[3]) is None
    assert quarter_import_w(b[0], b[3]) is None  # not consecutive
    other = Boundary(b[1].utc, "measured", b[1].registers, "N", 1)
    assert quarter_import_w(b[0], other) is None  # no delta across a meter change


def test_tariff_registers_and_export_export_never_counts() -> None:
    t = local(2026, 3, 2)
    before = Boundary(t, "measured", (100, 200, 0, 0), "M", 0)
    after = Boundary(t + STEP, "interpolated", (150, 260, 900, 0), "M", 0)
    assert quarter_import_w(before, after) == (50 + 60) * 4


def test_monthly_peak_is_the_highest_interval_of_the_local_month_earliest_wins() -> None:
    start = local(2026, 3, 31, 23, 15)
    # 23:15, 23:30, 23:45 belong to March; 00:00 of April 1st to April
    b = series(start, [700, 900, 900, 2000])
    peaks = monthly_peaks(quarter_powers(b), ["2026-03", "2026-04", "2026-05"], BRUSSELS)
    march, april, may = peaks
    assert (march.peak_w, march.start_utc, march.known) == (3600, start + STEP, 3)
    assert (april.peak_w, april.start_utc) == (8000, local(2026, 4, 1))
    assert (may.peak_w, may.start_utc, may.known) == (None, None, 0)
    assert march.intervals == 31 * 96 - 4  # the spring-forward day has 92 quarter-hours
    assert april.intervals == 30 * 96


def test_months_are_local_across_dst_and_the_fall_back_month_has_100_quarters_that_day() -> None:
    assert (
        month_range("2026-10", BRUSSELS)[1] - month_range("2026-10", BRUSSELS)[0]
        == (31 * 96 + 4) * STEP
    )
    # 2026-10-31 23:45 local is 22:45 UTC: still October, and so is the quarter after UTC's
    assert month_of(local(2026, 10, 31, 23, 45), BRUSSELS) == "2026-10"
    assert month_of(local(2026, 11, 1), BRUSSELS) == "2026-11"
    # the hour that happens twice on the fall-back night counts twice, in October
    first, second = local(2026, 10, 25, 2, 30), local(2026, 10, 25, 2, 30) + 3600
    assert month_of(first, BRUSSELS) == month_of(second, BRUSSELS) == "2026-10"
    # UTC midnight is not the month's border: the first hour of March 1st (local) is March
    assert month_of(local(2026, 3, 1, 0, 30), BRUSSELS) == "2026-03"
    assert month_of(local(2026, 3, 1, 0, 30), ZoneInfo("UTC")) == "2026-02"


def test_rolling_mean_counts_each_month_at_least_2500_w() -> None:
    peaks: dict[str, int | None] = {"2026-01": 1200, "2026-02": 4000, "2026-03": None}
    assert rolling_mean_w(peaks, "2026-02") == (2500 + 4000 + 1) // 2  # 3250
    assert rolling_mean_w(peaks, "2026-03") == 3250  # an unknown month is left out
    assert rolling_mean_w({}, "2026-03") is None
    assert rolling_mean_w({"2026-01": 2400}, "2026-01", floor_w=0) == 2400


def test_rolling_mean_window_is_the_last_12_months() -> None:
    peaks: dict[str, int | None] = {
        month: 3000 for month in previous_months("2026-12", 12)
    }  # Jan..Dec 2026
    peaks["2025-12"] = 100_000  # 13 months back: outside the window
    assert rolling_mean_w(peaks, "2026-12") == 3000
    assert rolling_mean_w(peaks, "2026-11") == (100_000 + 11 * 3000 + 6) // 12
    peaks["2026-06"] = 6000
    assert rolling_mean_w(peaks, "2026-12") == (11 * 3000 + 6000 + 6) // 12  # 3250


def test_month_arithmetic() -> None:
    assert shift_month("2026-01", -1) == "2025-12"
    assert shift_month("2026-12", 1) == "2027-01"
    assert previous_months("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]
    assert parse_month("2026-09") == (2026, 9)
    for bad in ("2026-13", "2026-1", "26-01", "2026/01", "abcd-ef"):
        with pytest.raises(ValueError):
            parse_month(bad)


def test_cross_check_tolerance_and_history_attribution() -> None:
    assert not disagrees(5824, 5821)
    assert not disagrees(5821 + PEAK_TOLERANCE_W, 5821)
    assert disagrees(5821 + PEAK_TOLERANCE_W + 1, 5821)
    assert not disagrees(None, 5821) and not disagrees(5821, None)
    # 98.1.0 stamps the reset at the start of the next month: the entry is the month before
    assert history_month(local(2026, 4, 1), local(2026, 3, 13, 18, 45), BRUSSELS) == "2026-03"
    assert history_month(None, local(2026, 3, 13, 18, 45), BRUSSELS) == "2026-03"
    assert history_month(None, None, BRUSSELS) is None


def test_tracker_follows_the_running_month_and_restarts_in_a_new_one() -> None:
    tracker = MonthPeakTracker(BRUSSELS)
    b = series(local(2026, 3, 31, 23, 15), [700, 900, 500, 300, 400])
    for boundary in b:
        tracker.observe(boundary)
    # the last two quarters (00:00, 00:15 of April 1st) belong to April
    assert tracker.month == "2026-04"
    assert (tracker.peak_w, tracker.start_utc) == (1600, local(2026, 4, 1, 0, 15))
    assert tracker.peak_in("2026-04") == 1600 and tracker.peak_in("2026-03") is None
    seeded = MonthPeakTracker(BRUSSELS)
    seeded.seed(monthly_peaks(quarter_powers(b[:4]), ["2026-03"], BRUSSELS)[0], b[3])
    seeded.observe(b[4])  # 00:00 of April: a new month starts from nothing
    assert (seeded.month, seeded.peak_w) == ("2026-04", 1200)


def _peak(peak_w: int | None, known: int, intervals: int = 2976) -> MonthlyPeak:
    return MonthlyPeak("2026-03", peak_w, None if peak_w is None else 0, known, intervals)


@pytest.mark.parametrize(
    ("ours", "meter", "figure", "mismatch"),
    [
        (_peak(4000, 2976), 4002, MonthFigure(4000, "ours"), False),  # whole month: ours
        (_peak(4000, 2976), 4317, MonthFigure(4000, "ours"), True),  # whole month, disagreeing
        (_peak(3980, 1100), 4317, MonthFigure(4317, "meter"), False),  # part: the meter saw all
        (_peak(4400, 1100), 4317, MonthFigure(4317, "meter"), True),  # part, yet above: wrong
        (_peak(3980, 2975), 4317, MonthFigure(4317, "meter"), False),  # one quarter missing
        (_peak(3980, 1100), None, MonthFigure(3980, "ours"), False),  # no meter figure
        (_peak(None, 0), 3003, MonthFigure(3003, "meter"), False),  # before the gateway came
        (_peak(None, 0), None, MonthFigure(None, None), False),
    ],
)
def test_a_month_counts_with_the_better_figure_and_says_which(
    ours: MonthlyPeak, meter: int | None, figure: MonthFigure, mismatch: bool
) -> None:
    assert month_figure(ours, meter) == figure
    assert month_disagrees(ours, meter) is mismatch


def test_the_issues_numbers_partial_march_counts_with_the_meters_4317() -> None:
    """Issue 11 item 8: February 3 003 W (meter), March ours 3 980 W over part of the month and
    the meter's 4 317 W: the mean is 3 660 W (it was 3 492 W with our partial figure)."""
    figures = {
        "2026-02": month_figure(_peak(None, 0, 2688), 3003),
        "2026-03": month_figure(_peak(3980, 1148, 2972), 4317),
    }
    assert figures["2026-03"] == MonthFigure(4317, "meter")
    mean = rolling_mean_w({m: f.peak_w for m, f in figures.items()}, "2026-03")
    assert mean == 3660
