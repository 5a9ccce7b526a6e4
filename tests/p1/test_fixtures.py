"""Every real meter's telegram gives the values its fixture documents (shared/fixtures/README)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge.p1 import MBUS_GAS, MBUS_HEAT, MBUS_WATER, Telegram, decode
from tests.conftest import FIXTURE_NAMES, fixture_bytes


def one(name: str) -> Telegram:
    telegrams = decode(fixture_bytes(name))
    assert len(telegrams) == 1, name
    return telegrams[0]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_decodes_to_one_telegram(name: str) -> None:
    telegram = one(name)
    assert telegram.header
    assert telegram.lines
    assert telegram.unparsed == ()


def test_dsmr22_gas_on_next_line() -> None:
    t = one("v2_2.txt")
    assert t.crc == "none"
    assert t.registers.import_t1 == 1001
    assert t.power_import_w == 1010
    (gas,) = t.mbus_of_type(MBUS_GAS)
    assert gas.value is not None and gas.value.text == "00001.001" and gas.value.unit == "m3"
    assert gas.base_value == 1001
    # DSMR 2.2 has no S/W letter: the configured zone (Amsterdam, CET in November) applies.
    assert gas.timestamp == utc(2016, 11, 7, 18, 0)


def test_dsmr3() -> None:
    t = one("v3.txt")
    assert t.registers.import_t1 == 12_345_678
    assert t.power_import_w == 1190
    assert t.tariff == 2
    assert t.mbus_of_type(MBUS_GAS)[0].base_value == 1001


def test_dsmr42_kaifa_with_power_failure_log() -> None:
    t = one("v4_2.txt")
    assert t.crc == "ok"
    assert t.timestamp == utc(2016, 11, 13, 19, 57, 57)
    assert (t.registers.import_t1, t.registers.import_t2) == (1_581_123, 1_435_706)
    assert t.power_import_w == 2027
    assert t.mbus_of_type(MBUS_GAS)[0].base_value == 981_443
    log = t.power_failures
    assert log is not None and [e.duration_s for e in log] == [237126, 2147583646, 2317482647]
    # The meter's clock was never set for these entries (year 2000): unknown, not invented.
    assert all(entry.end is None for entry in log)


def test_dsmr5_iskra_empty_failure_log() -> None:
    t = one("v5.txt")
    assert t.timestamp == utc(2017, 1, 2, 18, 20, 2)
    r = t.registers
    assert (r.import_t1, r.import_t2, r.export_t1, r.export_t2) == (4426, 2399, 2444, 0)
    assert t.power_import_w == 244
    assert t.mbus[0].channel == 1 and t.mbus[0].base_value == 107
    assert t.power_failures == ()
    assert t.value("1-0:1.8.1") == ("000004.426", "kWh")


def test_two_mbus_channels_by_type_not_position() -> None:
    t = one("v5_two_mbus.txt")
    gas = [dev for dev in t.mbus_of_type(MBUS_GAS) if dev.base_value is not None]
    assert [(dev.channel, dev.base_value) for dev in gas] == [(2, 246_138)]
    assert t.registers.import_t1 == 2_130_115


def test_unpadded_crc_heat_meter() -> None:
    t = one("unpadded_crc.txt")
    assert t.crc == "ok"
    (heat,) = t.mbus_of_type(MBUS_HEAT)
    assert heat.value == ("240.860", "GJ")
    assert heat.base_value == 240_860  # MJ


def test_fluvius_peaks_gas_and_water() -> None:
    t = one("fluvius_v171.txt")
    assert (t.registers.import_t1, t.registers.import_t2) == (34, 15_758)
    assert t.average_demand_w == 2351
    assert t.month_peak == (utc(2020, 5, 9, 11, 45, 58), 2589)  # 13:45:58 local summer time
    peaks = t.month_peaks
    assert peaks is not None and [p.value_w for p in peaks] == [3695, 5980, 4318]
    assert peaks[0].month_start == utc(2020, 4, 30, 22, 0)
    assert t.mbus_of_type(MBUS_GAS)[0].base_value == 112_384
    assert t.mbus_of_type(MBUS_WATER)[0].base_value == 872_234
    assert t.tariff == 1  # BE: 1 = day


def test_fluvius_garbage_month_time() -> None:
    t = one("fluvius_v171_alt.txt")
    assert t.registers.import_t1 == 301_548
    assert t.month_peak == (utc(2023, 11, 2, 10, 45), 3064)
    peaks = t.month_peaks
    assert peaks is not None and len(peaks) == 4
    assert peaks[0].peak_time is None and peaks[0].value_w == 0
    assert peaks[3].value_w == 4927


def test_easymeter_star255_and_watt_units() -> None:
    t = one("esy5q3db1024_v304.txt")
    assert t.registers.import_total == 52_185_782  # 52185.7825309 kWh, floored to Wh
    assert t.value("1-0:1.8.0") == ("00052185.7825309", "kWh")
    assert t.power_import_w == 2124  # 2124.86 W floored
    assert one("esy5q3da1004_v304.txt").registers.import_total == 32_549_506


def test_sagemcom_wh_units() -> None:
    t = one("sagemcom_t210_d_r.txt")
    assert t.registers.import_total == 6_545_766
    assert t.power_import_w == 286
    assert t.registers.import_sum == 6_545_766


def test_ireland_header_control_byte() -> None:
    t = one("iskra_ie.txt")
    assert t.header.startswith("ISk5\x02")
    assert t.registers.import_t1 == 10_181
    assert t.value("1-0:32.7.0") == ("242.5", "V")


def test_hungary_billing_profile_is_not_peaks() -> None:
    t = one("v5_eon_hu.txt")
    assert t.registers.import_total == 173_640
    assert t.registers.export_total == 627_177
    assert t.value("1-0:14.7.0") == ("50.00", "Hz")
    assert t.month_peaks is None
    assert len(t.values("0-0:98.1.0")) == 20


def test_luxembourg_plain_vendor_variant() -> None:
    t = one("x_luxembourg_smarty_plain.txt")
    assert t.registers.import_total == 273_764
    assert t.registers.export_total == 112_743_030
    assert t.mbus_of_type(MBUS_GAS)[0].base_value == 14_239_771
    assert t.values("1-1:31.4.0") == (("040", "A"), ("-040", "A"))


def test_header_control_byte_is_covered_by_crc() -> None:
    t = one("x_v5_header_ctrl02_legacy.txt")
    assert t.crc == "ok"
    assert t.header.startswith("ISk5\x02")


def test_sweden_han_telegram_per_the_swedish_spec() -> None:
    # Built from Bilaga 3 of shared/specs/Swedish_HAN_H1_port_v2.0_specification.txt (no real
    # capture is among the fixtures): totals in format 8.3 kWh/kVArh, powers 4.3, ASCII, CRC.
    from edge.p1.crc import crc16_arc_pure

    lines = [
        "/ELL5\\253833635_A", "", "0-0:1.0.0(210217184019W)",
        "1-0:1.8.0(00006678.394*kWh)", "1-0:2.8.0(00000000.000*kWh)",
        "1-0:3.8.0(00000021.988*kVArh)", "1-0:4.8.0(00001020.971*kVArh)",
        "1-0:1.7.0(0001.727*kW)", "1-0:2.7.0(0000.000*kW)", "1-0:3.7.0(0000.000*kVAr)",
        "1-0:21.7.0(0001.023*kW)", "1-0:32.7.0(240.3*V)", "1-0:31.7.0(004.2*A)", "!",
    ]  # fmt: skip
    body = "\r\n".join(lines).encode()
    (telegram,) = decode(body + f"{crc16_arc_pure(body):04X}\r\n".encode())
    assert telegram.crc == "ok"
    assert telegram.timestamp == utc(2021, 2, 17, 17, 40, 19)
    assert telegram.registers.import_total == 6_678_394
    assert telegram.registers.import_sum == 6_678_394
    assert telegram.power_import_w == 1727
    assert telegram.value("1-0:4.8.0") == ("00001020.971", "kVArh")
