"""Live values of a telegram for the home: what a home-automation dashboard shows.

Strategy: one flat JSON object per meter and message, with stable keys (the same keys name the
Home Assistant sensors, see `SENSORS`). Registers are published in kWh, gas and water in m³ and
heat in GJ — the units the Energy dashboard expects — converted from the exact integers only
here, at the display edge. A value the meter does not send is simply absent (never 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from edge.p1 import MBUS_GAS, MBUS_HEAT, MBUS_WATER, Telegram
from edge.p1.values import to_base_units
from edge.registers.timegrid import iso_utc

Number = int | float


@dataclass(frozen=True, slots=True)
class Sensor:
    """How one live value is announced to Home Assistant."""

    name: str
    device_class: str | None
    state_class: str | None
    unit: str | None


def _power(name: str) -> Sensor:
    return Sensor(name, "power", "measurement", "W")


def _energy(name: str) -> Sensor:
    return Sensor(name, "energy", "total_increasing", "kWh")


# key in the state JSON -> its sensor; per-phase keys are added below
SENSORS: Final[dict[str, Sensor]] = {
    "power_import_w": _power("Power import"),
    "power_export_w": _power("Power export"),
    "import_t1_kwh": _energy("Import tariff 1"),
    "import_t2_kwh": _energy("Import tariff 2"),
    "export_t1_kwh": _energy("Export tariff 1"),
    "export_t2_kwh": _energy("Export tariff 2"),
    "import_kwh": _energy("Import total"),
    "export_kwh": _energy("Export total"),
    # M-Bus sub-meters, each its own device in Home Assistant (`SUBMETER_KEYS`)
    "gas_m3": Sensor("Gas", "gas", "total_increasing", "m³"),
    "water_m3": Sensor("Water", "water", "total_increasing", "m³"),
    "heat_gj": Sensor("Heat", "energy", "total_increasing", "GJ"),
    "quarter_average_w": _power("Quarter-hour average power"),
    "quarter_projected_w": _power("Quarter-hour projected power"),
    "month_peak_w": _power("Month peak"),
    "meter_month_peak_w": _power("Month peak (meter)"),
}
# (key, OBIS, unit conversion) of per-phase values; V and A are decimals, kW become W
PHASES: Final = (
    [(f"voltage_l{i}", f"1-0:{c}.7.0", "V") for i, c in ((1, 32), (2, 52), (3, 72))]
    + [(f"current_l{i}", f"1-0:{c}.7.0", "A") for i, c in ((1, 31), (2, 51), (3, 71))]
    + [(f"power_import_l{i}_w", f"1-0:{c}.7.0", "W") for i, c in ((1, 21), (2, 41), (3, 61))]
    + [(f"power_export_l{i}_w", f"1-0:{c}.7.0", "W") for i, c in ((1, 22), (2, 42), (3, 62))]
)


def _phase_sensor(key: str, unit: str) -> Sensor:
    phase = key.split("_l")[1][0]
    if unit == "V":
        return Sensor(f"Voltage L{phase}", "voltage", "measurement", "V")
    if unit == "A":
        return Sensor(f"Current L{phase}", "current", "measurement", "A")
    return _power(f"Power {'import' if 'import' in key else 'export'} L{phase}")


SENSORS.update({key: _phase_sensor(key, unit) for key, _obis, unit in PHASES})
# (key, OBIS) of the meter's counters: the tariff in force and the power failures it counted
COUNTERS: Final = (
    ("tariff", "0-0:96.14.0"),
    ("power_failures", "0-0:96.7.21"),
    ("long_power_failures", "0-0:96.7.9"),
)
SENSORS.update(
    {
        "tariff": Sensor("Tariff", None, None, None),
        "power_failures": Sensor("Power failures", None, "total_increasing", None),
        "long_power_failures": Sensor("Long power failures", None, "total_increasing", None),
    }
)
# (state key, its time's key, M-Bus device type, sub-meter) of the sub-meter readings; the
# base values are dm³ (gas, water) and MJ (heat): m³ and GJ as DSMR telegrams state them
SUBMETERS: Final = (
    ("gas_m3", "gas_time", MBUS_GAS, "gas"),
    ("water_m3", "water_time", MBUS_WATER, "water"),
    ("heat_gj", "heat_time", MBUS_HEAT, "heat"),
)
SUBMETER_KEYS: Final = {key: kind for key, _time, _type, kind in SUBMETERS}
WARNING_KEY: Final = "peak_warning"  # "ON"/"OFF": a binary sensor, not in SENSORS


def kwh(wh: int) -> float:
    """Wh -> kWh for display (exact for every register a meter can hold)."""
    return wh / 1000


def telegram_values(telegram: Telegram) -> dict[str, Number | str]:
    """The live values of one telegram (time, power, registers, phases, gas)."""
    out: dict[str, Number | str] = {}
    if telegram.timestamp is not None:
        out["time"] = iso_utc(int(telegram.timestamp.timestamp()))
    if telegram.power_import_w is not None:
        out["power_import_w"] = telegram.power_import_w
    if telegram.power_export_w is not None:
        out["power_export_w"] = telegram.power_export_w
    regs = telegram.registers
    named = {
        "import_t1_kwh": regs.import_t1, "import_t2_kwh": regs.import_t2,
        "export_t1_kwh": regs.export_t1, "export_t2_kwh": regs.export_t2,
        "import_kwh": regs.import_sum, "export_kwh": regs.export_sum,
    }  # fmt: skip
    out.update({key: kwh(wh) for key, wh in named.items() if wh is not None})
    for key, obis, unit in PHASES:
        value = _phase_value(telegram, obis, unit)
        if value is not None:
            out[key] = value
    for key, obis in COUNTERS:
        counter = telegram.value(obis)
        if counter is not None and counter.text.isdigit():  # "0001" -> 1; garbage is absent
            out[key] = int(counter.text)
    for dev in telegram.mbus:
        for key, time_key, device_type, _kind in SUBMETERS:
            if dev.device_type == device_type and dev.base_value is not None and key not in out:
                out[key] = dev.base_value / 1000  # the first of a type: one device per kind
                if dev.timestamp is not None:
                    out[time_key] = iso_utc(int(dev.timestamp.timestamp()))
    return out


def _phase_value(telegram: Telegram, obis: str, unit: str) -> Number | None:
    value = telegram.value(obis)
    if value is None:
        return None
    if unit == "W":  # sent in kW with 3 decimals: exact W
        return to_base_units(value.text, value.unit)
    try:
        return float(Decimal(value.text))
    except InvalidOperation:
        return None
