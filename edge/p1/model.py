"""The typed, frozen telegram model.

Every data line of a telegram is kept in `lines` under its OBIS code as written, with the text
between its outer parentheses exactly as sent. The values the agent computes with on every
telegram (time, registers, power, tariff, equipment) are parsed eagerly into exact integers in
base units (Wh, W, dm³); the rest (`objects`, M-Bus, logs, Belgian peaks) is derived from the
lines when asked for, so the hot path does not pay for what nobody reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Final, Literal

from edge.p1.values import (
    ENERGY,
    HEAT,
    POWER,
    VOLUME,
    Dimension,
    Value,
    integer,
    parse_timestamp,
    quiet,
    split_values,
    to_base_units,
)

CrcStatus = Literal["ok", "none"]

# A data line: OBIS code, then everything between the first `(` and the line's last `)`.
LINE_PATTERN: Final = re.compile(r"\n(\d[-0-9:.*]*)\((.*)\)")


def find_raw(text: str, obis: str) -> str | None:
    """Raw text between the outer parentheses of line `obis` in a telegram's text, or None."""
    needle = "\n" + obis + "("
    found = text.find(needle)
    if found < 0:
        return None
    start = found + len(needle)
    end = text.find("\n", start)
    close = text.rfind(")", start, end if end >= 0 else len(text))
    return text[start:close] if close >= 0 else None


# M-Bus device types (0-n:24.1.0), DSMR 4/5 and EN 13757-3.
MBUS_ELECTRICITY = 2
MBUS_GAS = 3
MBUS_HEAT = 4
MBUS_WATER = 7


@dataclass(frozen=True, slots=True)
class MBusDevice:
    """An M-Bus channel, identified by its device type, never by its position."""

    channel: int
    device_type: int | None
    equipment_id: str | None
    timestamp: datetime | None
    value: Value | None
    base_value: int | None  # dm³ for m³, MJ for GJ, Wh for kWh (floored)


@dataclass(frozen=True, slots=True)
class PowerFailure:
    """One entry of the long power-failure log: when it ended and how long it lasted."""

    end: datetime | None
    duration_s: int


@dataclass(frozen=True, slots=True)
class MonthPeak:
    """A Belgian monthly peak (0-0:98.1.0): the month it belongs to, when it happened, W."""

    month_start: datetime | None
    peak_time: datetime | None
    value_w: int | None


@dataclass(frozen=True, slots=True)
class Registers:
    """The energy registers, exact Wh (None where the meter does not send them)."""

    import_t1: int | None
    import_t2: int | None
    export_t1: int | None
    export_t2: int | None
    import_total: int | None
    export_total: int | None

    @property
    def import_sum(self) -> int | None:
        """Total import: the meter's total register, or the two tariff registers' sum."""
        if self.import_total is not None:
            return self.import_total
        if self.import_t1 is not None and self.import_t2 is not None:
            return self.import_t1 + self.import_t2
        return None

    @property
    def export_sum(self) -> int | None:
        if self.export_total is not None:
            return self.export_total
        if self.export_t1 is not None and self.export_t2 is not None:
            return self.export_t1 + self.export_t2
        return None


@dataclass(frozen=True, slots=True)
class Telegram:
    """A checked and parsed P1 telegram."""

    header: str
    crc: CrcStatus
    timestamp: datetime | None  # aware UTC
    equipment_id: str | None
    registers: Registers
    power_import_w: int | None  # 1-0:1.7.0
    power_export_w: int | None  # 1-0:2.7.0
    tariff: int | None  # 0-0:96.14.0 (NL: 1 = low, 2 = normal; BE: 1 = day, 2 = night)
    text: str  # the telegram (Latin-1, continuation lines joined), `/` .. `!`
    local_tz: tzinfo  # for timestamps without an S/W letter (DSMR 3)

    @property
    def unparsed(self) -> tuple[str, ...]:
        """Lines that follow no OBIS grammar, kept raw (never fatal)."""
        lines = self.text.replace("\r", "").split("\n")[1:]
        return tuple(ln for ln in lines if ln and ln != "!" and not LINE_PATTERN.match("\n" + ln))

    @property
    def lines(self) -> dict[str, str]:
        """Every data line: OBIS as written -> the raw text between its outer parentheses."""
        return dict(LINE_PATTERN.findall(self.text))

    @property
    def objects(self) -> dict[str, tuple[Value, ...]]:
        """Every data line's values, OBIS as written (multi-value lines have several)."""
        return {obis: split_values(raw) for obis, raw in self.lines.items()}

    def raw(self, obis: str) -> str | None:
        """Raw text of a line; the EasyMeter `*255` suffix is optional."""
        found = find_raw(self.text, obis)
        return found if found is not None else find_raw(self.text, obis + "*255")

    def value(self, obis: str) -> Value | None:
        """The first value of an OBIS line, or None."""
        raw = self.raw(obis)
        return split_values(raw)[0] if raw is not None else None

    def values(self, obis: str) -> tuple[Value, ...]:
        raw = self.raw(obis)
        return split_values(raw) if raw is not None else ()

    @property
    def version(self) -> str | None:
        found = self.value("1-3:0.2.8") or self.value("0-0:96.1.4")
        return found.text if found else None

    @property
    def power_failure_count(self) -> int | None:
        found = self.value("0-0:96.7.21")
        return integer(found.text) if found else None

    @property
    def average_demand_w(self) -> int | None:
        """Belgian `1-0:1.4.0`: the running average power of the current quarter."""
        found = self.value("1-0:1.4.0")
        return quiet(found.text, found.unit, POWER) if found is not None else None

    @property
    def month_peak(self) -> tuple[datetime | None, int | None] | None:
        """Belgian `1-0:1.6.0`: this month's peak (its time, W)."""
        values = self.values("1-0:1.6.0")
        if len(values) < 2:
            return None
        when, peak = values[0], values[1]
        return parse_timestamp(when.text, self.local_tz), quiet(peak.text, peak.unit, POWER)

    @property
    def month_peaks(self) -> tuple[MonthPeak, ...] | None:
        """Belgian peak history `0-0:98.1.0`; None where 98.1.0 means something else (HU)."""
        values = self.values("0-0:98.1.0")
        if len(values) < 3 or values[1].text != "1-0:1.6.0":
            return None
        tz = self.local_tz
        return tuple(
            MonthPeak(
                parse_timestamp(values[i].text, tz),
                parse_timestamp(values[i + 1].text, tz),
                quiet(values[i + 2].text, values[i + 2].unit, POWER),
            )
            for i in range(3, len(values) - 2, 3)  # (count)(obis)(obis)(month)(time)(value)...
        )

    @property
    def power_failures(self) -> tuple[PowerFailure, ...] | None:
        """The long power-failure log (`1-0:99.97.0`); None when the meter sends none."""
        raw = self.raw("1-0:99.97.0")
        if raw is None:
            return None
        values = split_values(raw)
        entries = []
        for i in range(2, len(values) - 1, 2):  # (count)(0-0:96.7.19)(end)(duration*s)...
            duration = integer(values[i + 1].text)
            if duration is not None:
                entries.append(
                    PowerFailure(parse_timestamp(values[i].text, self.local_tz), duration)
                )
        return tuple(entries)

    @property
    def mbus(self) -> tuple[MBusDevice, ...]:
        """The M-Bus channels present (gas, heat, water, electricity), by channel number."""
        return tuple(dev for dev in (self.mbus_channel(channel) for channel in range(1, 5)) if dev)

    def mbus_of_type(self, device_type: int) -> tuple[MBusDevice, ...]:
        """The M-Bus devices of one type (gas = 3, heat = 4, water = 7, electricity = 2)."""
        return tuple(dev for dev in self.mbus if dev.device_type == device_type)

    def mbus_channel(self, channel: int) -> MBusDevice | None:
        """The M-Bus device on one channel (1-4), or None."""
        prefix = f"0-{channel}:"
        dev_type = self.value(prefix + "24.1.0")
        ident = self.value(prefix + "96.1.0") or self.value(prefix + "96.1.1")
        reading = self.values(prefix + "24.2.1") or self.values(prefix + "24.2.3")
        legacy = self.values(prefix + "24.3.0")
        if dev_type is None and ident is None and not reading and not legacy:
            return None
        stamp = value = None
        if len(reading) >= 2:
            stamp, value = parse_timestamp(reading[0].text, self.local_tz), reading[-1]
        elif len(legacy) >= 7:  # DSMR 2.2/3: (time)(00)(60)(1)(obis)(unit) + next line (value)
            stamp = parse_timestamp(legacy[0].text, self.local_tz)
            value = Value(legacy[6].text, legacy[5].text or None)
        device_type = integer(dev_type.text) if dev_type else None
        return MBusDevice(
            channel,
            device_type,
            ident.text if ident and ident.text else None,
            stamp,
            value,
            _device_value(device_type, value) if value else None,
        )


# What an M-Bus device of each type counts: a gas meter's value in kWh is a bad value, not Wh.
_DEVICE_DIMENSION: Final[dict[int, Dimension]] = {
    MBUS_ELECTRICITY: ENERGY,
    MBUS_GAS: VOLUME,
    MBUS_HEAT: HEAT,
    MBUS_WATER: VOLUME,
}


def _device_value(device_type: int | None, value: Value) -> int | None:
    dim = _DEVICE_DIMENSION.get(device_type) if device_type is not None else None
    if dim is None:  # an unknown device type: the unit alone says what it is
        return to_base_units(value.text, value.unit)
    return quiet(value.text, value.unit, dim)
