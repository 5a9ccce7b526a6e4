"""The quarter-hour engine on hand-made readings: every rule of SPEC §4, one at a time."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from edge.registers import (
    INTERPOLATED,
    MEASURED,
    MISSING,
    Closed,
    MeterEngine,
    Volume,
    allocate_primary,
    has_own_generation,
    intervals_in_day,
    secondaries_exceed_primary,
    volume,
)
from edge.registers.model import Boundary
from edge.registers.timegrid import day_range

B0 = 1_774_738_800  # 2026-03-28T23:00:00Z, a boundary (local midnight of the DST day)
AMS = ZoneInfo("Europe/Amsterdam")


def regs(wh: int) -> tuple[int, int, int, int]:
    return (wh, 1000, 0, 0)


def run(engine: MeterEngine, readings: list[tuple[int, int]], **kw: object) -> list[Closed]:
    out: list[Closed] = []
    for t, wh in readings:
        out += engine.feed(t, regs(wh), meter="M1", **kw)  # type: ignore[arg-type]
    return out


def test_local_days_have_96_92_100_intervals() -> None:
    assert intervals_in_day(date(2026, 3, 28), AMS) == 96
    assert intervals_in_day(date(2026, 3, 29), AMS) == 92
    assert intervals_in_day(date(2026, 10, 25), AMS) == 100
    start, _ = day_range(date(2026, 3, 29), AMS)
    assert start == B0


def test_reading_on_the_boundary_is_measured_and_closes_the_interval() -> None:
    engine = MeterEngine("ap", interval_s=1)
    closed = run(engine, [(B0 + s, 100 + s) for s in range(0, 901)])
    assert [c.boundary.status for c in closed] == [MEASURED, MEASURED]
    assert closed[1].boundary.registers == regs(1000)
    interval = closed[1].interval
    assert interval is not None and interval.start == B0 and interval.status == MEASURED


def test_late_reading_gives_interpolated_boundary_exactly() -> None:
    engine = MeterEngine("ap", interval_s=1)
    closed = run(engine, [(B0, 0), (B0 + 890, 890), (B0 + 910, 1910)])
    b = closed[1].boundary
    assert b.status == INTERPOLATED
    assert b.registers == regs(890 + (1910 - 890) * 10 // 20)


def test_dsmr4_reading_within_its_interval_is_measured() -> None:
    engine = MeterEngine("ap", interval_s=10)
    closed = run(engine, [(B0, 0), (B0 + 895, 895), (B0 + 905, 905)])
    assert closed[1].boundary.status == MEASURED and closed[1].boundary.registers == regs(905)


def test_no_reading_within_the_horizon_is_missing_and_gaps_are_explicit() -> None:
    engine = MeterEngine("ap", interval_s=1)
    closed = run(engine, [(B0, 0), (B0 + 100, 100), (B0 + 3 * 3600 + 1, 5000)])
    # B0+900k needs the reading before within 1 h (k <= 4) and the one after (k >= 9): none has
    # both, and the reading 1 s after the last boundary is too late to measure it.
    assert [c.boundary.status for c in closed] == [MEASURED] + [MISSING] * 12
    assert all(c.interval is not None and c.interval.status == MISSING for c in closed[1:])


def test_gap_of_40_minutes_is_interpolated_both_sides_within_the_horizon() -> None:
    engine = MeterEngine("ap", interval_s=1)
    closed = run(engine, [(B0, 0), (B0 + 600, 600), (B0 + 3000, 3000)])
    assert [c.boundary.status for c in closed] == [MEASURED] + [INTERPOLATED] * 3
    assert [c.boundary.registers for c in closed[1:]] == [regs(900), regs(1800), regs(2700)]


def test_advance_settles_missing_boundaries_without_readings() -> None:
    engine = MeterEngine("ap", interval_s=1)
    run(engine, [(B0, 0), (B0 + 10, 10)])
    assert engine.advance(B0 + 900 + 3600) == []
    closed = engine.advance(B0 + 900 + 3601)
    assert [c.boundary.status for c in closed] == [MISSING]
    assert closed[0].interval is not None and closed[0].interval.status == MISSING


def test_register_decrease_is_flagged_not_fixed() -> None:
    engine = MeterEngine("ap", interval_s=1)
    closed = run(engine, [(B0, 50_000), (B0 + 450, 49_000), (B0 + 900, 49_500)])
    interval = closed[1].interval
    assert interval is not None and "register_decreased" in interval.flags
    assert closed[1].boundary.registers == regs(49_500)  # kept as the meter said


def test_capacity_excess_flagged_at_120_percent() -> None:
    engine = MeterEngine("ap", interval_s=1, quarter_limit_wh=5190)
    closed = run(engine, [(B0, 0), (B0 + 900, 5190), (B0 + 1800, 5190 + 5189)])
    first, second = closed[1].interval, closed[2].interval
    assert first is not None and first.flags == ("capacity_exceeded",)
    assert second is not None and second.flags == ()


def test_meter_replacement_starts_a_new_series_without_delta() -> None:
    engine = MeterEngine("ap", interval_s=1)
    out = engine.feed(B0, regs(9_000_000), meter="OLD")
    out += engine.feed(B0 + 500, regs(9_000_100), meter="OLD")
    out += engine.feed(B0 + 900, regs(12), meter="NEW")
    out += engine.feed(B0 + 1800, regs(40), meter="NEW")
    assert [c.boundary.series for c in out] == [0, 1, 1]
    assert out[1].boundary.meter == "NEW"
    crossing = out[1].interval
    assert crossing is not None and crossing.status == MISSING and "meter_changed" in crossing.flags
    after = out[2].interval
    assert after is not None and after.status == MEASURED and after.flags == ()
    assert volume(out[0].boundary, out[1].boundary) is None


def test_clock_skew_and_power_failure_flags() -> None:
    engine = MeterEngine("ap", interval_s=1)
    out = engine.feed(B0, regs(0), power_failures=3, received=B0)
    out += engine.feed(B0 + 100, regs(1), received=B0 + 100 + 11)
    out += engine.feed(B0 + 900, regs(2), received=B0 + 900)
    interval = out[1].interval
    assert interval is not None and "clock_skew" in interval.flags
    out = engine.feed(B0 + 1000, regs(3))
    out += engine.feed(B0 + 2800, regs(4), power_failures=4)  # back after an outage
    flagged = [c.interval.start for c in out if c.interval and "power_failure" in c.interval.flags]
    assert flagged == [B0 + 900, B0 + 1800]


def test_max_power_per_interval() -> None:
    engine = MeterEngine("ap", interval_s=1)
    out = engine.feed(B0, regs(0), power_w=100)
    out += engine.feed(B0 + 10, regs(1), power_w=2500)
    out += engine.feed(B0 + 899, regs(2), power_w=300)
    out += engine.feed(B0 + 900, regs(3), power_w=9000)  # belongs to the next interval
    interval = out[1].interval
    assert interval is not None and interval.max_power_w == 2500


def test_checkpoint_restore_continues_identically() -> None:
    readings = [(B0 + s * 7, s * 3) for s in range(700)]
    whole = MeterEngine("ap", interval_s=1)
    expected = run(whole, readings)
    first = MeterEngine("ap", interval_s=1)
    got = run(first, readings[:333])
    second = MeterEngine("ap", interval_s=1)
    second.restore(first.checkpoint())
    assert run(second, readings[:333]) == []  # re-fed readings are ignored...
    got += run(second, readings[333:])  # ...and the rest continues
    assert [(c.boundary, c.interval) for c in got] == [(c.boundary, c.interval) for c in expected]


def test_duplicates_and_clock_steps_back_are_ignored() -> None:
    engine = MeterEngine("ap", interval_s=1)
    run(engine, [(B0, 0), (B0 + 5, 5), (B0 + 5, 5), (B0 + 3, 3)])
    assert engine.ignored == 2


def test_allocation_primary_minus_secondaries() -> None:
    def b(utc: int, imp: int, exp: int, series: int = 0) -> Boundary:
        return Boundary(utc, MEASURED, (imp, 0, exp, 0), "m", series)

    main = volume(b(0, 0, 0), b(900, 1000, 0))
    pv = volume(b(0, 0, 0), b(900, 0, 2000))
    ev = volume(b(0, 0, 0), b(900, 700, 0))
    assert main is not None and pv is not None and ev is not None
    allocation = allocate_primary(main, [pv, ev])
    assert (allocation.offtake, allocation.injection) == (2300, 0)  # 1000 - (-2000 + 700)
    assert allocate_primary(main, [pv, None]).offtake is None
    assert not secondaries_exceed_primary(main, [pv, ev])
    assert secondaries_exceed_primary(main, [volume(b(0, 0, 0), b(900, 5000, 0))])  # type: ignore[list-item]


def test_first_reading_after_a_boundary_leaves_that_boundary_explicitly_missing() -> None:
    engine = MeterEngine("ap", interval_s=1)
    closed = run(engine, [(B0 + 10, 10), (B0 + 900, 900)])
    assert [(c.boundary.utc, c.boundary.status) for c in closed] == [
        (B0, MISSING),
        (B0 + 900, MEASURED),
    ]
    interval = closed[1].interval
    assert interval is not None and interval.status == MISSING


def test_a_first_reading_within_the_meters_interval_measures_the_boundary() -> None:
    # issue 11 item 3: `--dialect dsmr4 --start 2026-03-28T00:00:03+01:00`, 10 s telegrams
    engine = MeterEngine("ap", interval_s=10)
    closed = run(engine, [(B0 + 3, 100), (B0 + 13, 101)])
    assert [(c.boundary.utc, c.boundary.status, c.boundary.registers) for c in closed] == [
        (B0, MEASURED, regs(100))
    ]
    late = MeterEngine("ap", interval_s=10)
    assert run(late, [(B0 + 10, 100)])[0].boundary.status == MISSING  # not within 10 s


def test_a_young_meter_restarting_near_zero_starts_a_new_series() -> None:
    # issue 11 item 5: 630 Wh -> 7 Wh is a restart, not a decrease of -623 Wh
    engine = MeterEngine("ap", interval_s=1)
    closed = []
    for t, wh in [(B0, 630), (B0 + 450, 631), (B0 + 451, 7), (B0 + 900, 8), (B0 + 1800, 9)]:
        closed += engine.feed(t, (wh, 0, 0, 0), meter="M1")
    series = [c.boundary.series for c in closed]
    assert series == [0, 1, 1]
    flags = [c.interval.flags for c in closed if c.interval is not None]
    assert flags == [("meter_changed",), ()]  # no register_decreased, no volume across
    big = MeterEngine("ap", interval_s=1)  # a real decrease of a big register stays R1
    out = []
    for t, wh in [(B0, 5_000_000), (B0 + 450, 4_999_000), (B0 + 900, 4_999_100)]:
        out += big.feed(t, (wh, 0, 0, 0), meter="M1")
    assert [c.boundary.series for c in out] == [0, 0]


def test_an_interval_whose_registers_decreased_has_no_volume_to_trust() -> None:
    # issue 11 item 6: -250 Wh of import is not 250 Wh of injection
    engine = MeterEngine("ap", interval_s=1)
    closed = []
    for t, wh in [(B0, 10_000_000), (B0 + 450, 9_999_750), (B0 + 900, 9_999_750)]:
        closed += engine.feed(t, (wh, 0, 0, 0), meter="M1")
    interval = closed[1].interval
    assert interval is not None
    assert interval.status == MISSING and interval.flags == ("register_decreased",)


def test_r7_cannot_fire_without_secondaries_or_for_own_generation() -> None:
    main_exporting = Volume(imported=0, exported=800)  # a PV house at noon
    assert not secondaries_exceed_primary(main_exporting, [])
    ev = Volume(imported=2500, exported=0)
    house = Volume(imported=1900, exported=0)  # EV charging, 700 Wh of it from the roof
    assert not secondaries_exceed_primary(house, [ev], own_generation=True)
    # exporting while the EV charges: production behind the meter of unknown size
    assert not secondaries_exceed_primary(Volume(0, 300), [ev])
    pv = Volume(imported=2, exported=1500)  # a metered PV secondary feeds the charger
    assert not secondaries_exceed_primary(Volume(1000, 0), [ev, pv])
    # an EV drawing more than came in and than anything metered produced behind: impossible
    assert secondaries_exceed_primary(Volume(75, 0), [ev])
    # within the meters' accuracy (1 % of the flows + 1 Wh per volume) it is no evidence
    assert not secondaries_exceed_primary(Volume(2470, 0), [ev])
    assert secondaries_exceed_primary(Volume(2440, 0), [ev])


def test_own_generation_is_the_main_meter_exporting_more_than_the_secondaries() -> None:
    assert has_own_generation(5_000_000, [0])
    assert not has_own_generation(1_200_000, [1_500_000])  # all of it from the metered PV
    assert not has_own_generation(300, [])  # a few Wh of export are no PV
