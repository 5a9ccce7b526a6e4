"""The peak warning state machine: scripted quarters, time always an argument."""

from __future__ import annotations

import pytest

from edge.registers import STEP
from edge.registers.peak_warning import PeakWarning

Q = 1_772_406_000  # a quarter-hour boundary (2026-03-01T23:00Z)


def run_quarter(
    machine: PeakWarning,
    start: int,
    watts: int,
    wh: int,
    *,
    month_peak_w: int | None,
    step: int = 10,
    demand: bool = False,
) -> tuple[int, list[bool]]:
    """Feed one quarter at constant power; returns the register at its end and the states."""
    active = []
    exact_ws = wh * 3600
    for t in range(start, start + STEP, step):
        elapsed = t - start
        state = machine.observe(
            t,
            exact_ws // 3600,
            power_w=watts,
            demand_w=watts if demand and elapsed else (0 if demand else None),
            month_peak_w=month_peak_w,
        )
        active.append(state.active)
        exact_ws += watts * step
    return exact_ws // 3600, active


def test_a_high_load_quarter_fires_after_the_first_minute_and_clears_at_the_next_quarter() -> None:
    machine = PeakWarning(0.1)
    wh, calm = run_quarter(machine, Q, 1000, 5_000_000, month_peak_w=4000)
    assert not any(calm)
    wh, busy = run_quarter(machine, Q + STEP, 6000, wh, month_peak_w=4000)
    assert not any(busy[:6])  # the first minute only observes
    assert all(busy[6:])  # 6 kW projected > 4.4 kW
    state = machine.state
    assert state is not None and state.projected_w is not None
    assert 5900 <= state.projected_w <= 6000 and state.threshold_w == 4400
    wh, after = run_quarter(machine, Q + 2 * STEP, 500, wh, month_peak_w=6000)
    assert not any(after)


def test_margin_and_the_2_5_kw_floor() -> None:
    machine = PeakWarning(0.1)
    assert machine.threshold_w(None) == 2750  # nothing yet this month: the tariff's floor
    assert machine.threshold_w(1000) == 2750
    assert machine.threshold_w(5000) == 5500
    _, states = run_quarter(machine, Q, 2600, 1000, month_peak_w=None)
    assert not any(states)  # above the peak so far but within the floor's margin
    _, states = run_quarter(PeakWarning(0.1), Q, 5400, 1000, month_peak_w=5000)
    assert not any(states)  # 8 % above the peak: inside the 10 % margin
    _, states = run_quarter(PeakWarning(0.0), Q, 5400, 1000, month_peak_w=5000)
    assert states[-1]
    with pytest.raises(ValueError):
        PeakWarning(-0.1)


def test_the_projection_counts_the_energy_already_used() -> None:
    machine = PeakWarning(0.1)
    # 10 minutes at 9 kW, then the load drops to 0 W: (9 kW x 600 s + 0) / 900 s = 6 kW
    wh = 1000
    for t in range(Q, Q + 600, 10):
        machine.observe(t, wh, power_w=9000, month_peak_w=5000)
        wh += 25  # 9 kW for 10 s
    state = machine.observe(Q + 600, wh, power_w=0, month_peak_w=5000)
    assert state.projected_w is not None and 5950 <= state.projected_w <= 6000
    assert state.active  # latched: it was heading for 9 kW
    machine2 = PeakWarning(0.1)
    wh = 1000
    for t in range(Q, Q + 600, 10):
        machine2.observe(t, wh, power_w=3000, month_peak_w=5000)
        wh += 8
    state = machine2.observe(Q + 600, wh, power_w=0, month_peak_w=5000)
    assert not state.active and state.projected_w is not None and state.projected_w < 2200


def test_the_meters_running_average_is_used_when_sent() -> None:
    machine = PeakWarning(0.1)
    # registers frozen (a meter that updates them slowly) but 1.4.0 says 7 kW so far
    state = machine.observe(Q + 300, 1000, power_w=7000, demand_w=7000, month_peak_w=4000)
    assert (state.elapsed_s, state.average_w, state.projected_w) == (300, 7000, 7000)
    assert state.active


def test_quarter_start_is_interpolated_from_the_readings_around_the_boundary() -> None:
    machine = PeakWarning(0.1)
    machine.observe(Q - 5, 1000, power_w=3600)
    state = machine.observe(Q + 5, 1010, power_w=3600)  # 10 Wh over 10 s: 5 Wh since Q
    assert state.quarter_start == Q and state.elapsed_s == 5 and state.average_w == 3600


def test_tick_clears_a_warning_when_the_quarter_ends_without_telegrams() -> None:
    machine = PeakWarning(0.1, min_elapsed_s=0)
    machine.observe(Q + 100, 0, power_w=0, month_peak_w=1000)
    state = machine.observe(Q + 200, 1000, power_w=20_000, month_peak_w=1000)
    assert state.active
    assert machine.tick(Q + STEP - 1) == state
    cleared = machine.tick(Q + STEP)
    assert cleared is not None and not cleared.active and not machine.active


def test_a_reading_at_the_boundary_starts_the_quarter_with_nothing_known() -> None:
    machine = PeakWarning(0.1)
    state = machine.observe(Q, 1000, power_w=9000, month_peak_w=100)
    assert state.elapsed_s == 0 and state.average_w is None and not state.active
    assert state.projected_w == 9000


def test_a_quarter_seen_from_boundary_to_boundary_reports_its_average() -> None:
    machine = PeakWarning(0.1)
    wh, _ = run_quarter(machine, Q, 2000, 1000, month_peak_w=None)
    assert machine.closed is None  # still running
    machine.observe(Q + STEP, wh, power_w=0)
    assert machine.closed == (Q, 2000)
    late = PeakWarning(0.1)
    late.observe(Q + 100, 1000, power_w=2000)  # first seen mid-quarter: its average is unknown
    late.observe(Q + STEP, 1500, power_w=2000)
    assert late.closed is None
