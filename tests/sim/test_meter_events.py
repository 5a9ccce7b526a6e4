"""DST, power failures, meter replacement, clock drift, Fluvius demand registers."""

from __future__ import annotations

from collections import Counter

from firmware_sim.api import render
from firmware_sim.clock import parse_start
from tests.sim.conftest import peer, registers, wh


def _day_intervals(dialect: str, day: str, offset: str) -> tuple[int, list[bytes]]:
    out = render(dialect, start=f"{day}T00:00:00{offset}", duration="1d", seed=4, interval=60)
    return len(out.truth) - 1, out.telegrams


def test_spring_forward_day_has_92_intervals_and_letters_switch() -> None:
    intervals, tels = _day_intervals("dsmr5", "2026-03-29", "+01:00")
    assert intervals == 92
    stamps = [t.split(b"0-0:1.0.0(")[1][:13].decode() for t in tels]
    assert "260329015900W" in stamps and "260329030000S" in stamps
    assert not any(s.startswith("26032902") for s in stamps)  # the skipped hour


def test_fall_back_day_has_100_intervals_and_repeats_the_hour() -> None:
    intervals, tels = _day_intervals("dsmr5", "2026-10-25", "+02:00")
    assert intervals == 100
    stamps = [t.split(b"0-0:1.0.0(")[1][:13].decode() for t in tels]
    assert "261025023000S" in stamps and "261025023000W" in stamps
    assert stamps.index("261025023000S") < stamps.index("261025023000W")


def test_truth_rows_are_on_local_quarter_boundaries_with_z() -> None:
    out = render("fluvius", start="2026-10-25T00:00:00+02:00", duration="1d", interval=60)
    text = out.truth_csv().splitlines()
    assert text[0] == "meter,boundary_utc,import_t1_wh,import_t2_wh,export_t1_wh,export_t2_wh"
    assert len(text) == 1 + 101 and all(line.split(",")[1].endswith(":00Z") for line in text[1:])
    assert {line.split(",")[1][14:16] for line in text[1:]} == {"00", "15", "30", "45"}


def test_power_failure_appears_in_the_next_telegram() -> None:
    out = render("dsmr5", start="2026-05-04T11:50:00+02:00", duration="30m", seed=6,
                 faults="power_failure:4m@12:00")  # fmt: skip
    begin = parse_start("2026-05-04T12:00:00+02:00", "Europe/Amsterdam")
    assert not [t for t in out.times if begin <= t < begin + 240]  # silent while dead
    i = out.times.index(begin + 240)
    before = peer("dsmr5").parse(out.telegrams[i - 1].decode())
    after = peer("dsmr5").parse(out.telegrams[i].decode())
    assert before.LONG_POWER_FAILURE_COUNT.value == 0
    assert after.LONG_POWER_FAILURE_COUNT.value == 1 and after.SHORT_POWER_FAILURE_COUNT.value == 1
    log = after.POWER_EVENT_FAILURE_LOG
    assert log.buffer_length == 1
    assert int(log.buffer[0].value) == 240 and str(log.buffer[0].datetime).startswith(
        "2026-05-04 10:04"
    )
    # Nothing is consumed while the power is off: the registers stand still.
    assert (
        registers(before) == registers(after) or sum(registers(after)) - sum(registers(before)) <= 1
    )


def test_meter_replacement_new_id_and_registers_near_zero() -> None:
    out = render("dsmr4", start="2026-05-04T08:00:00+02:00", duration="2h", seed=8,
                 meter_id="E0099000000000007", faults="replace@09:00")  # fmt: skip
    ids = Counter(t.split(b"0-0:96.1.1(")[1][:34] for t in out.telegrams)
    assert set(ids) == {b"E0099000000000007".hex().upper().encode(),
                        b"E0099000000000008".hex().upper().encode()}  # fmt: skip
    metered = [r.meter for r in out.truth]
    assert metered.count("E0099000000000007") == 4 and metered.count("E0099000000000008") == 5
    new = [r for r in out.truth if r.meter == "E0099000000000008"]
    assert new[0].import_t1_wh + new[0].import_t2_wh < 10
    assert new[-1].import_t1_wh + new[-1].import_t2_wh > new[0].import_t1_wh


def test_clock_drift_moves_the_meter_stamp_only() -> None:
    out = render("dsmr5", duration="1h", drift_ppm=5000.0, seed=1)
    last = peer("dsmr5").parse(out.telegrams[-1].decode()).P1_MESSAGE_TIMESTAMP.value
    assert int(last.timestamp()) - out.times[-1] == 17  # 3599 s * 0.005


def test_fluvius_demand_registers_from_quarter_hours() -> None:
    out = render("fluvius", start="2026-01-31T20:00:00+01:00", duration="6h", seed=2,
                 interval=60, profile="ev-charger")  # fmt: skip
    parser = peer("fluvius")
    quarters = {}
    for a, b in zip(out.truth, out.truth[1:], strict=False):
        imported = (b.import_t1_wh + b.import_t2_wh) - (a.import_t1_wh + a.import_t2_wh)
        quarters[b.boundary] = imported * 4  # W average over 900 s, from Wh registers
    jan = {
        t: w for t, w in quarters.items() if t <= parse_start("2026-02-01T00:00", "Europe/Brussels")
    }
    last = parser.parse(out.telegrams[-1].decode())
    history = last.BELGIUM_MAXIMUM_DEMAND_13_MONTHS
    assert len(history) == 1
    assert abs(wh(history[0]) - max(jan.values())) <= 4
    feb = {t: w for t, w in quarters.items() if t not in jan}
    assert abs(wh(last.BELGIUM_MAXIMUM_DEMAND_MONTH) - max(feb.values())) <= 4
    mid = parser.parse(out.telegrams[-8].decode())  # 7 minutes into the last quarter
    assert 0 <= wh(mid.BELGIUM_CURRENT_AVERAGE_DEMAND) < 30_000
