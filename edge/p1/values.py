"""Value-level parsing: decimal text to exact integers, P1 timestamps to aware UTC.

No floats: a register's decimal text becomes an integer in the base unit (Wh, W, dm³, MJ, varh)
by moving the decimal point in the text. Meter quirks degrade to None, never to an exception.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

DEFAULT_TZ: Final = ZoneInfo("Europe/Amsterdam")


class Value(NamedTuple):
    """One parenthesised value: its text as sent (`"001581.123"`) and its unit (`"kWh"`)."""

    text: str
    unit: str | None


# Unit -> decimal places to shift for the exact integer in the base unit.
_SHIFT: Final = {
    "kWh": 3, "Wh": 0, "kW": 3, "W": 0, "m3": 3, "GJ": 3,
    "kvarh": 3, "varh": 0, "kvar": 3, "var": 0, "kVA": 3, "VA": 0,
}  # fmt: skip

_UTC_OFFSET: Final = {"S": timedelta(hours=2), "W": timedelta(hours=1)}


def integer(text: str) -> int | None:
    """A plain unsigned integer, or None."""
    # str.isdigit alone accepts superscripts that int() rejects; int() alone accepts "1_0".
    return int(text) if text.isascii() and text.isdigit() else None


def to_base_units(text: str, unit: str | None) -> int | None:
    """Exact integer in the base unit (Wh, W, dm³, MJ, varh), floored; None if not numeric."""
    shift = _SHIFT.get(unit) if unit is not None else None
    if shift is None:
        return None
    whole, _, frac = text.partition(".")
    if len(frac) != shift:  # the common case (kWh with 3 decimals) needs no padding
        frac = frac[:shift] if len(frac) > shift else frac + "0" * (shift - len(frac))
    digits = whole + frac
    if digits.isdigit() and digits.isascii():
        return int(digits)
    if digits[:1] == "-" and digits[1:].isdigit() and digits.isascii():
        return -int(digits[1:])
    return None


_THREE_DECIMALS: Final = frozenset({"kWh", "kW", "m3"})


def base_of(raw: str) -> int | None:
    """Base-unit integer of one raw value `text*unit`."""
    text, _, unit = raw.partition("*")
    # The hot case (every register and power of a DSMR meter, each telegram): three decimals of
    # a kilo-unit. Dropping the point is the whole conversion; anything else takes the full path.
    if unit in _THREE_DECIMALS and text[-4:-3] == ".":
        digits = text[:-4] + text[-3:]
        if digits.isdigit() and digits.isascii():
            return int(digits)
    return to_base_units(text, unit) if unit else None


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
    if len(text) == 13:
        offset = _UTC_OFFSET.get(text[12])
        day = _day_start(text[:6])
        if offset is None or day is None:
            return None
        seconds = _seconds_of_day(text[6:12])
        return None if seconds is None else day + timedelta(seconds=seconds) - offset
    number = integer(text)
    if number is None or len(text) != 12 or text[:2] == "00" or text[:6] == "700101":
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
