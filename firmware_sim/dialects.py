"""Line layouts of each dialect, copied field for field from real meters' telegrams.

Strategy: one function per dialect builds the block's template (see render.py). Widths, units
and line order follow the fixtures in tests/data: Iskra DSMR 5, Kaifa DSMR 4.2, Iskra DSMR 2.2,
Fluvius e-MUCS 1.7.1, Luxembourg Smarty and the Sagemcom T210-D-r plaintext.
"""

from __future__ import annotations

from firmware_sim import render as r
from firmware_sim.clock import stamp
from firmware_sim.meter import MeterSpec
from firmware_sim.render import Lines, Template
from firmware_sim.simulate import Block

_ZERO_COUNTERS = ("32.32.0", "52.32.0", "72.32.0", "32.36.0", "52.36.0", "72.36.0")
_KW = "%02d.%03d*kW"


def _registers(lines: Lines, b: Block, width: int, obis: tuple[str, ...]) -> None:
    for i, code in enumerate(obis):
        lines.add(f"1-0:{code}(%0{width}d.%03d*kWh)", *r.kwh(b.reg[i]))


def _phase_power(lines: Lines, b: Block, order: str) -> None:
    codes = {"i1": ("21", b.ph_imp[0]), "i2": ("41", b.ph_imp[1]), "i3": ("61", b.ph_imp[2])}
    codes |= {"e1": ("22", b.ph_exp[0]), "e2": ("42", b.ph_exp[1]), "e3": ("62", b.ph_exp[2])}
    for key in order.split():
        code, values = codes[key]
        lines.add(f"1-0:{code}.7.0({_KW})", *r.kwh(values))


def _gas(lines: Lines, spec: MeterSpec, b: Block, obis: str, id_obis: str = "96.1.0") -> None:
    if not spec.gas:
        return
    lines.const("0-1:24.1.0(003)")
    lines.const(f"0-1:{id_obis}({r.gas_id(b.meter_id)})")
    if obis == "24.2.3":
        lines.const("0-1:24.4.0(1)")
    lines.add(f"0-1:{obis}(%s)(%05d.%03d*m3)", r.stamps_of(b.gas_t, spec.tz), *r.kwh(b.gas_dm3))


def _head(lines: Lines, spec: MeterSpec, b: Block, ident: str, version: str) -> None:
    lines.const(ident)
    lines.const("")
    lines.const(f"1-3:0.2.8({version})")
    lines.add("0-0:1.0.0(%012d%s)", b.stamp.tolist(), r.letters(b.summer))


def _failures(lines: Lines, spec: MeterSpec, b: Block) -> None:
    total, longs, log = r.failure_logs(spec, b)
    lines.add("0-0:96.7.21(%05d)", total)
    lines.add("0-0:96.7.9(%05d)", longs)
    lines.add("1-0:99.97.0%s", log)
    for code in _ZERO_COUNTERS:
        lines.const(f"1-0:{code}(00000)")


def _dutch_core(lines: Lines, spec: MeterSpec, b: Block, header: str, version: str) -> None:
    """Header, equipment id, the four registers, tariff, power and the failure log (NL)."""
    _head(lines, spec, b, header, version)
    lines.const(f"0-0:96.1.1({r.hex_id(b.meter_id)})")
    _registers(lines, b, 6, ("1.8.1", "1.8.2", "2.8.1", "2.8.2"))
    lines.add("0-0:96.14.0(%04d)", b.tariff.tolist())
    lines.add(f"1-0:1.7.0({_KW})", *r.kwh(b.p_imp))
    lines.add(f"1-0:2.7.0({_KW})", *r.kwh(b.p_exp))
    _failures(lines, spec, b)


def dsmr5(spec: MeterSpec, b: Block) -> Template:
    lines = Lines()
    _dutch_core(lines, spec, b, "/ISk5\\2MT382-1000", "50")
    lines.const("0-0:96.13.0()")
    _volts_amps(lines, b, "%04d.%d", "%d.%02d")
    _phase_power(lines, b, "i1 i2 i3 e1 e2 e3")
    _gas(lines, spec, b, "24.2.1")
    return lines.template()


def dsmr4(spec: MeterSpec, b: Block) -> Template:
    lines = Lines()
    _dutch_core(lines, spec, b, "/KFM5KAIFA-METER", "42")
    lines.const("0-0:96.13.1()")
    lines.const("0-0:96.13.0()")
    for i, code in enumerate(("31", "51", "71")):
        lines.add(f"1-0:{code}.7.0(%03d*A)", ((b.cur_ca[i] + 50) // 100).tolist())
    _phase_power(lines, b, "i1 e1 i2 e2 i3 e3")
    _gas(lines, spec, b, "24.2.1")
    return lines.template()


def dsmr22(spec: MeterSpec, b: Block) -> Template:
    lines = Lines()
    lines.const("/ISk5\\2MT382-1004")
    lines.const("")
    lines.const(f"0-0:96.1.1({r.hex_id(b.meter_id)})")
    _registers(lines, b, 5, ("1.8.1", "1.8.2", "2.8.1", "2.8.2"))
    lines.add("0-0:96.14.0(%04d)", b.tariff.tolist())
    lines.add(
        "1-0:1.7.0(%04d.%02d*kW)", (b.p_imp // 1000).tolist(), (b.p_imp % 1000 // 10).tolist()
    )
    lines.add(
        "1-0:2.7.0(%04d.%02d*kW)", (b.p_exp // 1000).tolist(), (b.p_exp % 1000 // 10).tolist()
    )
    lines.const("0-0:17.0.0(0999.00*kW)")
    lines.const("0-0:96.3.10(1)")
    lines.const("0-0:96.13.1()")
    lines.const("0-0:96.13.0()")
    if spec.gas:
        lines.const("0-1:24.1.0(3)")
        lines.const(f"0-1:96.1.0({r.gas_id(b.meter_id)})")
        stamps = r.stamps_of(b.gas_t, spec.tz, letter=False)
        lines.add("0-1:24.3.0(%s)(00)(60)(1)(0-1:24.2.1)(m3)", stamps)
        lines.add("(%05d.%03d)", *r.kwh(b.gas_dm3))
        lines.const("0-1:24.4.0(1)")
    return lines.template()


def _history(entries: tuple[tuple[int, int, int], ...], tz: str) -> str:
    parts = [f"({len(entries)})(1-0:1.6.0)(1-0:1.6.0)"]
    for reset, peak_t, peak_w in entries:
        parts.append(
            f"({stamp(reset, tz)})({stamp(peak_t, tz)})"
            f"({peak_w // 1000:02d}.{peak_w % 1000:03d}*kW)"
        )
    return "".join(parts)


def fluvius(spec: MeterSpec, b: Block) -> Template:
    d = b.demand
    assert d is not None, "a Fluvius block carries its demand registers"
    lines = Lines()
    lines.const("/FLU5\\253769484_A")
    lines.const("")
    lines.const("0-0:96.1.4(50217)")
    lines.const(f"0-0:96.1.1({r.hex_id(b.meter_id)})")
    lines.add("0-0:1.0.0(%012d%s)", b.stamp.tolist(), r.letters(b.summer))
    _registers(lines, b, 6, ("1.8.1", "1.8.2", "2.8.1", "2.8.2"))
    lines.add(f"1-0:1.4.0({_KW})", *r.kwh(d.avg_w))
    lines.add(f"1-0:1.6.0(%s)({_KW})", r.stamps_of(d.peak_t, spec.tz), *r.kwh(d.peak_w))
    texts = [_history(h, spec.tz) for h in d.histories]
    lines.add("0-0:98.1.0%s", [texts[i] for i in d.hist_idx.tolist()])
    lines.add("0-0:96.14.0(%04d)", b.tariff.tolist())
    lines.add(f"1-0:1.7.0({_KW})", *r.kwh(b.p_imp))
    lines.add(f"1-0:2.7.0({_KW})", *r.kwh(b.p_exp))
    _phase_power(lines, b, "i1 i2 i3 e1 e2 e3")
    _volts_amps(lines, b, "%03d.%d", "%03d.%02d")
    lines.const("0-0:96.3.10(1)")
    lines.const("0-0:17.0.0(999.9*kW)")
    lines.const("1-0:31.4.0(999*A)")
    lines.const("0-0:96.13.0()")
    _gas(lines, spec, b, "24.2.3", id_obis="96.1.1")
    return lines.template()


def smarty(spec: MeterSpec, b: Block) -> Template:
    lines = Lines()
    _head(lines, spec, b, "/Lux5\\253663629_D", "42")
    lines.const(f"0-0:42.0.0({r.hex_id(b.meter_id)})")
    lines.add("1-0:1.8.0(%06d.%03d*kWh)", *r.kwh(b.reg[0] + b.reg[1]))
    lines.add("1-0:2.8.0(%06d.%03d*kWh)", *r.kwh(b.reg[2] + b.reg[3]))
    lines.const("1-0:3.8.0(000000.000*kvarh)")
    lines.const("1-0:4.8.0(000000.000*kvarh)")
    lines.add(f"1-0:1.7.0({_KW})", *r.kwh(b.p_imp))
    lines.add(f"1-0:2.7.0({_KW})", *r.kwh(b.p_exp))
    lines.const("1-0:3.7.0(00.000*kvar)")
    lines.const("1-0:4.7.0(00.000*kvar)")
    lines.const("0-0:17.0.0(027.6*kVA)")
    lines.const("0-0:96.3.10(1)")
    total, _, _ = r.failure_logs(spec, b)
    lines.add("0-0:96.7.21(%05d)", total)
    for code in _ZERO_COUNTERS:
        lines.const(f"1-0:{code}(00000)")
    lines.const("0-0:96.13.0()")
    for i, code in enumerate(("32", "52", "72")):
        lines.add(
            f"1-0:{code}.7.0(%03d.%d*V)",
            (b.volt_dv[i] // 10).tolist(),
            (b.volt_dv[i] % 10).tolist(),
        )
    for i, code in enumerate(("31", "51", "71")):
        lines.add(f"1-0:{code}.7.0(%03d*A)", ((b.cur_ca[i] + 50) // 100).tolist())
    _phase_power(lines, b, "i1 i2 i3 e1 e2 e3")
    _gas(lines, spec, b, "24.2.1")
    return lines.template()


def sagemcom(spec: MeterSpec, b: Block) -> Template:
    lines = Lines()
    _head(lines, spec, b, "/EST5\\253710000_A", "50")
    for code, values in (
        ("1.8.0", b.reg[0] + b.reg[1]),
        ("1.8.1", b.reg[0]),
        ("1.8.2", b.reg[1]),
    ):
        lines.add(f"1-0:{code}(%09d*Wh)", values.tolist())
    lines.add("1-0:1.7.0(%09d*W)", b.p_imp.tolist())
    for code, values in (
        ("2.8.0", b.reg[2] + b.reg[3]),
        ("2.8.1", b.reg[2]),
        ("2.8.2", b.reg[3]),
    ):
        lines.add(f"1-0:{code}(%09d*Wh)", values.tolist())
    lines.add("1-0:2.7.0(%09d*W)", b.p_exp.tolist())
    for code in ("3.8.0", "3.8.1", "3.8.2"):
        lines.const(f"1-0:{code}(000000000*varh)")
    lines.const("1-0:3.7.0(000000000*var)")
    for code in ("4.8.0", "4.8.1", "4.8.2"):
        lines.const(f"1-0:{code}(000000000*varh)")
    lines.const("1-0:4.7.0(000000000*var)")
    return lines.template()


DIALECTS: dict[str, r.Dialect] = {
    "dsmr22": dsmr22,
    "dsmr4": dsmr4,
    "dsmr5": dsmr5,
    "fluvius": fluvius,
    "smarty": smarty,
    "sagemcom": sagemcom,
}
HAS_CRC = {"dsmr22": False}
ENCRYPTED = ("smarty", "sagemcom")


def _volts_amps(lines: Lines, b: Block, volt_format: str, amp_format: str) -> None:
    """Per-phase voltage (0.1 V) and current (0.01 A) lines, in the dialect's field widths."""
    for i, code in enumerate(("32", "52", "72")):
        volts = b.volt_dv[i]
        lines.add(f"1-0:{code}.7.0({volt_format}*V)", (volts // 10).tolist(), (volts % 10).tolist())
    for i, code in enumerate(("31", "51", "71")):
        amps = b.cur_ca[i]
        lines.add(f"1-0:{code}.7.0({amp_format}*A)", (amps // 100).tolist(), (amps % 100).tolist())
