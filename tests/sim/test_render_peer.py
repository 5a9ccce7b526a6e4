"""Every telegram parses with dsmr_parser (CRC on) and agrees with the truth at boundaries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from firmware_sim.api import render
from firmware_sim.crc import crc16_arc, crc16_arc_py
from firmware_sim.simulate import TruthRow
from tests.sim.conftest import peer, registers, wh

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = ("v5.txt", "v4_2.txt", "fluvius_v171.txt", "x_luxembourg_smarty_plain.txt")


@pytest.mark.parametrize("name", FIXTURES)
def test_own_crc_matches_real_meters(name: str) -> None:
    raw = (DATA / name).read_bytes()
    bang = raw.rindex(b"!")
    expected = int(raw[bang + 1 : bang + 5], 16)
    assert crc16_arc(raw[: bang + 1]) == expected
    assert crc16_arc_py(raw[: bang + 1]) == expected


def test_crc_fallback_equals_compiled() -> None:
    data = bytes(range(256)) * 3
    assert crc16_arc_py(data) == crc16_arc(data) and crc16_arc(b"123456789") == 0xBB3D


def _by_time(truth: list[TruthRow]) -> dict[int, TruthRow]:
    return {r.boundary: r for r in truth}


@pytest.mark.parametrize(
    ("dialect", "duration", "profile"),
    [
        ("dsmr5", "40m", "household-pv"),
        ("fluvius", "35m", "heat-pump"),
        ("dsmr4", "6h", "ev-charger"),
    ],
)
def test_every_telegram_parses_and_boundaries_match_truth(
    dialect: str, duration: str, profile: str
) -> None:
    # 11:40 local in July: PV exports, EV and heat pump run in the evening of the 6 h window.
    out = render(dialect, start="2026-07-14T11:40:00+02:00", duration=duration, seed=3,
                 profile=profile, gas=True)  # fmt: skip
    parser = peer(dialect)
    truth = _by_time(out.truth)
    assert len(out.telegrams) == len(out.times) > 0
    checked = 0
    for raw, t in zip(out.telegrams, out.times, strict=True):
        assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
        tel = parser.parse(raw.decode("ascii"))  # raises on a CRC or format error
        stamp = tel.P1_MESSAGE_TIMESTAMP.value
        assert stamp == datetime.fromtimestamp(t, UTC)
        if t in truth:
            row = truth[t]
            assert registers(tel) == (
                row.import_t1_wh,
                row.import_t2_wh,
                row.export_t1_wh,
                row.export_t2_wh,
            )
            ident = getattr(tel, "EQUIPMENT_IDENTIFIER", None) or tel.BELGIUM_EQUIPMENT_IDENTIFIER
            assert ident.value == bytes(row.meter, "ascii").hex().upper()
            checked += 1
    assert checked == len([b for b in truth if b < out.times[-1] + 1]) >= 2


def test_power_and_phases_are_consistent() -> None:
    out = render("dsmr5", start="2026-06-01T12:00:00+02:00", duration="5m", seed=5,
                 profile="household-pv")  # fmt: skip
    parser = peer("dsmr5")
    for a, b in zip(out.telegrams[:120], out.telegrams[1:121], strict=True):
        ta, tb = parser.parse(a.decode()), parser.parse(b.decode())
        net_w = wh(ta.CURRENT_ELECTRICITY_USAGE) - wh(ta.CURRENT_ELECTRICITY_DELIVERY)
        phases = sum(
            wh(getattr(ta, f"INSTANTANEOUS_ACTIVE_POWER_L{i}_POSITIVE"))
            - wh(getattr(ta, f"INSTANTANEOUS_ACTIVE_POWER_L{i}_NEGATIVE"))
            for i in (1, 2, 3)
        )
        assert net_w == phases
        # One second at net_w watts moves the import or export registers by net_w/3600 Wh.
        ra, rb = registers(ta), registers(tb)
        moved_ws = ((rb[0] + rb[1]) - (ra[0] + ra[1]) - (rb[2] + rb[3]) + (ra[2] + ra[3])) * 3600
        assert abs(moved_ws - net_w) < 3600
        volts = float(ta.INSTANTANEOUS_VOLTAGE_L1.value)
        amps = float(ta.INSTANTANEOUS_CURRENT_L1.value)
        l1 = wh(ta.INSTANTANEOUS_ACTIVE_POWER_L1_POSITIVE) + wh(
            ta.INSTANTANEOUS_ACTIVE_POWER_L1_NEGATIVE
        )
        assert 220 < volts < 240 and abs(volts * amps - l1) <= volts * 0.01 + 1


def test_dsmr22_has_no_crc_and_gas_on_next_line() -> None:
    out = render("dsmr22", duration="1m", gas=True, seed=2)
    raw = out.telegrams[0]
    assert raw.endswith(b"\r\n!\r\n")
    lines = raw.decode().split("\r\n")
    gas_at = next(i for i, line in enumerate(lines) if line.startswith("0-1:24.3.0("))
    assert lines[gas_at + 1].startswith("(") and lines[gas_at + 1].endswith(")")
    tel = peer("dsmr22").parse(raw.decode())
    assert wh(tel.ELECTRICITY_USED_TARIFF_1) == out.truth[0].import_t1_wh
    assert len(out.telegrams) == 6  # every 10 s


def test_same_seed_same_bytes_and_chunking_does_not_matter() -> None:
    a = render("dsmr5", start="2026-02-03T23:50:00+01:00", duration="20m", seed=9, gas=True)
    b = render("dsmr5", start="2026-02-03T23:50:00+01:00", duration="20m", seed=9, gas=True)
    c = render("dsmr5", start="2026-02-04T00:00:00+01:00", duration="10m", seed=9, gas=True)
    assert a.data == b.data
    # A later start does not change the physics at the same instant (registers differ by base).
    ia, ic = a.times.index(c.times[0]), 0
    ta, tc = (
        peer("dsmr5").parse(a.telegrams[ia + 5].decode()),
        peer("dsmr5").parse(c.telegrams[ic + 5].decode()),
    )
    assert ta.CURRENT_ELECTRICITY_USAGE.value == tc.CURRENT_ELECTRICITY_USAGE.value
