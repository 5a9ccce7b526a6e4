"""Value-level parsing: decimal text to exact integers, P1 timestamps to aware UTC.

No floats: a register's decimal text becomes an integer in the base unit (Wh, W, dm³, MJ, varh)
by moving the decimal point in the text, after checking that the unit measures what the value
is (`*m3` is no energy) and that the value is no wider than a meter shows. A bad value raises
the library's `ParseError` (a counted rejection of the telegram), never Python's ValueError;
`to_base_units` and `quiet` give None instead, for values read after a telegram was accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

from edge.errors import ParseError

DEFAULT_TZ: Final = ZoneInfo("Europe/Amsterdam")


class Value(NamedTuple):
    """One parenthesised value: its text as sent (`"001581.123"`) and its unit (`"kWh"`)."""

    text: str
    unit: str | None


class Dimension(NamedTuple):
    """What a value measures: its units (-> decimal places to the base unit) and its bound."""

    name: str
    shifts: Mapping[str, int]
    limit: int  # the largest base-unit value a meter can show


# The widest values the specs and fixtures show: energy and volume registers 8 whole digits and
# 3 decimals (DSMR: 6 + 3; EasyMeter Q3D: 8 whole digits), power 9 digits of W (Sagemcom
# `000000286*W`). A wider value is no meter's reading (a 20-digit one does not even fit SQLite's
# 64-bit integer): a bad value. No dialect sends MWh or MW, so those are not units of anything.
ENERGY: Final = Dimension("energy", {"kWh": 3, "Wh": 0}, 10**11 - 1)
POWER: Final = Dimension("power", {"kW": 3, "W": 0}, 10**9 - 1)
VOLUME: Final = Dimension("volume", {"m3": 3, "dm3": 0}, 10**11 - 1)
HEAT: Final = Dimension("heat", {"GJ": 3, "MJ": 0}, 10**11 - 1)
REACTIVE_ENERGY: Final = Dimension("reactive energy", {"kvarh": 3, "varh": 0}, 10**11 - 1)
REACTIVE_POWER: Final = Dimension("reactive power", {"kvar": 3, "var": 0}, 10**9 - 1)
APPARENT_POWER: Final = Dimension("apparent power", {"kVA": 3, "VA": 0}, 10**9 - 1)

_BY_UNIT: Final = {
    unit: dim
    for dim in (ENERGY, POWER, VOLUME, HEAT, REACTIVE_ENERGY, REACTIVE_POWER, APPARENT_POWER)
    for unit in dim.shifts
}

# Longer text is never a meter's number: checked before int(), whose cost grows with the length
# (and which raises past 4 300 digits).
MAX_NUMBER_TEXT: Final = 24
_MAX_INTEGER_DIGITS: Final = 18  # counters, durations, device types: far below 64 bits

_UTC_OFFSET: Final = {"S": timedelta(hours=2), "W": timedelta(hours=1)}


def integer(text: str) -> int | None:
    """A plain unsigned integer of at most 18 digits, or None."""
    # str.isdigit alone accepts superscripts that int() rejects; int() alone accepts "1_0".
    if len(text) > _MAX_INTEGER_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def measure(text: str, unit: str | None, dim: Dimension) -> int:
    """Exact integer in `dim`'s base unit (Wh, W, dm³, MJ, varh, VA), floored.

    Raises ParseError when the unit is not one of `dim` (`*m3` on an energy register), the text
    is not a decimal number, or the value is wider than a meter of `dim` can show.
    """
    shift = dim.shifts.get(unit) if unit is not None else None
    if shift is None:
        raise ParseError(f"{text}*{unit}: not a unit of {dim.name}")
    value = _decimal(text, shift) if len(text) <= MAX_NUMBER_TEXT else None
    if value is None:
        raise ParseError(f"{text[:30]}*{unit}: not a number a meter sends")
    if abs(value) > dim.limit:
        raise ParseError(f"{text}*{unit}: wider than a meter's {dim.name}")
    return value


def to_base_units(text: str, unit: str | None) -> int | None:
    """Exact integer in the base unit its unit names (Wh, W, dm³, MJ, varh), floored; None
    where it is not a number of a known unit or wider than a meter shows. Never raises."""
    dim = _BY_UNIT.get(unit) if unit is not None else None
    if dim is None:
        return None
    try:
        return measure(text, unit, dim)
    except ParseError:
        return None


def quiet(text: str, unit: str | None, dim: Dimension) -> int | None:
    """`measure`, with a bad value as None: for the values read lazily from an accepted
    telegram (M-Bus, peaks), which degrade to "unknown" (SPEC §3) instead of raising late."""
    try:
        return measure(text, unit, dim)
    except ParseError:
        return None


def _decimal(text: str, shift: int) -> int | None:
    whole, _, frac = text.partition(".")
    if len(frac) != shift:  # the common case (kWh with 3 decimals) needs no padding
        frac = frac[:shift] if len(frac) > shift else frac + "0" * (shift - len(frac))
    digits = whole + frac
    if digits.isdigit() and digits.isascii():
        return int(digits)
    if digits[:1] == "-" and digits[1:].isdigit() and digits.isascii():
        return -int(digits[1:])
    return None


def energy_of(raw: str) -> int:
    """Wh of an energy register's raw value `text*unit`; ParseError for a bad value."""
    text, _, unit = raw.partition("*")
    # The hot case (every register of a DSMR meter, each telegram): kWh with three decimals and
    # at most 9 digits. Dropping the point is the whole conversion; anything else is judged.
    if unit == "kWh" and text[-4:-3] == ".":
        digits = text[:-4] + text[-3:]
        if len(digits) <= 9 and digits.isdigit() and digits.isascii():
            return int(digits)
    return measure(text, unit or None, ENERGY)


def power_of(raw: str) -> int:
    """W of a power value's raw text `text*unit`; ParseError for a bad value."""
    text, _, unit = raw.partition("*")
    if unit == "kW" and text[-4:-3] == ".":  # the hot case, as in `energy_of`
        digits = text[:-4] + text[-3:]
        if len(digits) <= 9 and digits.isdigit() and digits.isascii():
            return int(digits)
    return measure(text, unit or None, POWER)


def split_values(raw: str) -> tuple[Value, ...]:
    """`a*u)(b` (the text between a line's outer parentheses) -> its values."""
    out = []
    for item in raw.split(")("):
        text, star, unit = item.partition("*")
        out.append(Value(text, unit if star else None))
    return tuple(out)


def parse_timestamp(text: str, local_tz: tzinfo = DEFAULT_TZ) -> datetime | None:
    """`YYMMDDhhmmssX` -> aware UTC. X = S is UTC+2, W is UTC+1; no letter (DSMR 3): `local_tz`.

    Garbage (impossible dates, the unset-clock placeholders of 2000 and 1970) gives None.
    """
    if len(text) == 13:  # the length first: nothing longer reaches int()
        offset = _UTC_OFFSET.get(text[12])
        day = _day_start(text[:6])
        if offset is None or day is None:
            return None
        seconds = _seconds_of_day(text[6:12])
        return None if seconds is None else day + timedelta(seconds=seconds) - offset
    if len(text) != 12:
        return None
    number = integer(text)
    if number is None or text[:2] == "00" or text[:6] == "700101":
        return None
    rest, second = divmod(number, 100)
    rest, minute = divmod(rest, 100)
    rest, hour = divmod(rest, 100)
    rest, day_of_month = divmod(rest, 100)
    year, month = divmod(rest, 100)
    try:
        local = datetime(2000 + year, month, day_of_month, hour, minute, second, tzinfo=local_tz)
    except ValueError:
        return None
    return local.astimezone(UTC)


@lru_cache(maxsize=64)
def _day_start(yymmdd: str) -> datetime | None:
    """Midnight UTC of a `YYMMDD` date (a telegram stream has one or two dates a day)."""
    number = integer(yymmdd)
    if number is None or yymmdd[:2] == "00" or yymmdd == "700101":
        return None
    year, rest = divmod(number, 10000)
    month, day = divmod(rest, 100)
    try:
        return datetime(2000 + year, month, day, tzinfo=UTC)
    except ValueError:
        return None


def _seconds_of_day(hhmmss: str) -> int | None:
    number = integer(hhmmss)
    if number is None:
        return None
    hour, rest = divmod(number, 10000)
    minute, second = divmod(rest, 100)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return hour * 3600 + minute * 60 + second
