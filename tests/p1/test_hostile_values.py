"""Valid-CRC telegrams with absurd values: a counted rejection or "unknown", never an exception.

Each case seals its mutated text with a correct CRC, so the value itself is what is judged (a
wrong CRC would hide the defect behind the CRC check).
"""

from __future__ import annotations

import pytest

from edge.p1 import P1Decoder, Rejected, Telegram
from edge.p1.crc import crc16_arc
from edge.p1.values import ENERGY, POWER, measure, parse_timestamp, to_base_units
from tests.conftest import fixture_bytes

V5 = fixture_bytes("v5.txt")
HUGE = "9" * 5000  # past Python's 4 300-digit int() limit


def sealed(text: str, base: bytes = V5) -> bytes:
    """The fixture with one substitution, sealed with a CRC that matches the new bytes."""
    body = base[: base.index(b"!") + 1].decode("latin-1")
    old, new = text.split(" -> ")
    assert old in body
    changed = body.replace(old, new).encode("latin-1")
    return changed + b"%04X\r\n" % crc16_arc(changed)


def decode_all(data: bytes) -> tuple[list[Telegram], list[Rejected], P1Decoder]:
    decoder = P1Decoder()
    events = decoder.feed(data) + decoder.end_of_input()
    return (
        [e for e in events if isinstance(e, Telegram)],
        [e for e in events if isinstance(e, Rejected)],
        decoder,
    )


WIDE = [
    f"1-0:1.8.1(000004.426*kWh) -> 1-0:1.8.1({HUGE}.426*kWh)",
    f"1-0:1.8.2(000002.399*kWh) -> 1-0:1.8.2({HUGE}*Wh)",
    f"1-0:1.7.0(00.244*kW) -> 1-0:1.7.0({HUGE}.244*kW)",
    f"0-0:1.0.0(170102192002W) -> 0-0:1.0.0({HUGE})",
    "1-0:1.8.1(000004.426*kWh) -> 1-0:1.8.1(99999999999999999999.999*kWh)",  # 20 digits
    "1-0:1.8.1(000004.426*kWh) -> 1-0:1.8.1(000000000000000000000000004.426*kWh)",
    "1-0:2.8.1(000002.444*kWh) -> 1-0:2.8.1(123456789012*Wh)",  # 12 digits of Wh
]


@pytest.mark.parametrize("change", WIDE, ids=[c.split(" -> ")[1][:30] for c in WIDE])
def test_a_huge_or_wide_value_is_a_counted_rejection_and_the_stream_goes_on(change: str) -> None:
    bad = sealed(change)
    telegrams, rejected, decoder = decode_all(V5 + bad + V5)
    if change.startswith("0-0:1.0.0"):  # a garbage time degrades to "no time" (SPEC §3)
        assert len(telegrams) == 3 and telegrams[1].timestamp is None
        return
    assert len(telegrams) == 2 and [r.reason for r in rejected] == ["parse"]
    assert "1-0:" in rejected[0].detail
    assert decoder.stats.errors == 1 and decoder.stats.telegrams == 2


LAZY = {
    "gas value": (
        f"0-1:24.2.1(170102161005W)(00000.107*m3) -> 0-1:24.2.1(170102161005W)({HUGE}*m3)",
        lambda t: t.mbus[0].base_value is None and t.mbus[0].timestamp is not None,
    ),
    "device type": (
        f"0-1:24.1.0(003) -> 0-1:24.1.0({HUGE})",
        lambda t: t.mbus[0].device_type is None and t.mbus[0].base_value == 107,
    ),
    "capture time": (
        f"0-1:24.2.1(170102161005W) -> 0-1:24.2.1({HUGE})",
        lambda t: t.mbus[0].timestamp is None and t.mbus[0].base_value == 107,
    ),
    "failure count": (
        f"0-0:96.7.21(00013) -> 0-0:96.7.21({HUGE})",
        lambda t: t.power_failure_count is None,
    ),
    "failure duration": (
        f"1-0:99.97.0(0)(0-0:96.7.19) -> 1-0:99.97.0(1)(0-0:96.7.19)(170101000000W)({HUGE}*s)",
        lambda t: t.power_failures == (),
    ),
}


@pytest.mark.parametrize("case", sorted(LAZY))
def test_lazily_read_values_degrade_to_unknown(case: str) -> None:
    change, check = LAZY[case]
    (telegram,), rejected, _ = decode_all(sealed(change))
    assert not rejected
    assert check(telegram)
    assert telegram.objects  # the raw views stay available


def test_belgian_peaks_with_huge_or_wrong_unit_values_are_unknown() -> None:
    fluvius = fixture_bytes("fluvius_v171.txt")
    huge = sealed(f"1-0:1.6.0(200509134558S)(02.589*kW) -> 1-0:1.6.0(200509134558S)({HUGE}*kW)",
                  fluvius)  # fmt: skip
    (telegram,), _, _ = decode_all(huge)
    assert telegram.month_peak == (telegram.month_peak[0], None)  # type: ignore[index]
    wrong = sealed("1-0:1.4.0(02.351*kW) -> 1-0:1.4.0(02.351*kWh)", fluvius)
    (telegram,), _, _ = decode_all(wrong)
    assert telegram.average_demand_w is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # a register in a unit that is not energy is a bad value, never Wh
        ("1-0:1.8.1(000004.426*kWh) -> 1-0:1.8.1(009370.400*m3)", None),
        ("1-0:1.8.1(000004.426*kWh) -> 1-0:1.8.1(000004.426*GJ)", None),
        ("1-0:2.8.1(000002.444*kWh) -> 1-0:2.8.1(000002.444*kW)", None),
        ("1-0:1.8.1(000004.426*kWh) -> 1-0:1.8.1(000004.426*MWh)", None),  # no dialect sends MWh
        ("1-0:1.8.1(000004.426*kWh) -> 1-0:1.8.1(000004.426)", None),  # no unit: no dimension
        ("1-0:1.8.1(000004.426*kWh) -> 1-0:1.8.1(0000.04.426*kWh)", None),
        ("1-0:1.7.0(00.244*kW) -> 1-0:1.7.0(00.244*kWh)", None),
        ("1-0:1.7.0(00.244*kW) -> 1-0:1.7.0(00.244*A)", None),
        # the same dimension in its other unit converts exactly
        ("1-0:1.8.1(000004.426*kWh) -> 1-0:1.8.1(000004426*Wh)", 4426),
        ("1-0:1.8.1(000004.426*kWh) -> 1-0:1.8.1(00004.4267*kWh)", 4426),  # floored
    ],
)
def test_register_units_are_checked_against_the_register(change: str, expected: int | None) -> None:
    telegrams, rejected, decoder = decode_all(sealed(change))
    if expected is None:
        assert not telegrams and [r.reason for r in rejected] == ["parse"]
        assert decoder.stats.errors == 1
        return
    (telegram,) = telegrams
    assert telegram.registers.import_t1 == expected


def test_power_in_watts_is_exact() -> None:
    (telegram,), _, _ = decode_all(sealed("1-0:1.7.0(00.244*kW) -> 1-0:1.7.0(000000244*W)"))
    assert telegram.power_import_w == 244


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("(170102161005W)(00000.107*m3)", 107),
        ("(170102161005W)(00000107*dm3)", 107),
        ("(170102161005W)(00000.107*kWh)", None),  # a gas meter does not count energy
        ("(170102161005W)(00000.107*GJ)", None),
    ],
)
def test_gas_units_are_checked_against_the_device(line: str, expected: int | None) -> None:
    change = f"0-1:24.2.1(170102161005W)(00000.107*m3) -> 0-1:24.2.1{line}"
    (telegram,), _, _ = decode_all(sealed(change))
    (gas, _empty) = telegram.mbus
    assert gas.device_type == 3 and gas.base_value == expected


def test_conversions_raise_the_library_error_and_bound_the_width() -> None:
    from edge.errors import ParseError

    assert measure("000004.426", "kWh", ENERGY) == 4426
    assert measure("99999999.999", "kWh", ENERGY) == 99_999_999_999  # EasyMeter's 8 digits
    for text, unit, dim in [
        (HUGE, "kWh", ENERGY),
        ("100000000.000", "kWh", ENERGY),
        ("1.0", "m3", ENERGY),
        ("1000000000", "W", POWER),
        ("1e3", "kW", POWER),
    ]:
        with pytest.raises(ParseError):
            measure(text, unit, dim)
    assert to_base_units(HUGE, "kWh") is None
    assert parse_timestamp(HUGE) is None and parse_timestamp("9" * 13) is None
