"""Telegram text -> `Telegram`, for every dialect in SPEC §3.

Strategy: the CRC has already vouched for the bytes, so the parser does not split every line on
every telegram: it finds the handful of lines the agent reads each second (time, registers,
power, tariff, equipment id) with C-speed substring searches and converts those to exact
integers. The other lines stay in the telegram's text and are parsed when asked for
(`Telegram.lines`, `objects`, M-Bus, logs, peaks). DSMR 2.2/3 continuation lines (the gas value
on the next line) are glued to their object first. Bytes are decoded as Latin-1, which cannot
fail: non-ASCII garbage stays visible instead of crashing the reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import tzinfo
from typing import Final

from edge.errors import ParseError
from edge.p1 import build
from edge.p1.crc import crc16_arc
from edge.p1.model import LINE_PATTERN, CrcStatus, Telegram
from edge.p1.values import DEFAULT_TZ, energy_of, integer, parse_timestamp, power_of

# The lines read on every telegram, found in one C-speed pass; the optional `*255` suffix
# (EasyMeter) is matched but not captured, so the keys are plain OBIS codes. First value only.
_HOT_LINES: Final = re.compile(
    r"\n(1-0:[12]\.[78]\.[012]|0-0:1\.0\.0|0-0:96\.14\.0|0-0:96\.1\.[01]|0-0:96\.1\.255"
    r"|0-0:42\.0\.0)(?:\*\d{1,3})?\(([^)\r\n]*)\)"
)
Getter = Callable[[str], str | None]
_EQUIPMENT_ID_KEYS: Final = ("0-0:96.1.1", "0-0:96.1.0", "0-0:42.0.0", "0-0:96.1.255")


def check_crc(body: bytes, crc_text: bytes) -> CrcStatus | None:
    """ "ok", "none" (no CRC sent) or None (mismatch); compared numerically (`!B9F`)."""
    if not crc_text:
        return "none"
    return "ok" if int(crc_text, 16) == crc16_arc(body) else None


def parse_telegram(body: bytes, crc: CrcStatus, local_tz: tzinfo = DEFAULT_TZ) -> Telegram:
    """Parse a framed, CRC-checked telegram (`/` .. `!`)."""
    text = body.decode("latin-1")
    # Only CRC-less dialects (DSMR 2.2/3) continue a value on the next line.
    if crc == "none" and "\n(" in text:
        text = text.replace("\r\n(", "(").replace("\n(", "(")
    found = dict(_HOT_LINES.findall(text))
    if not found and LINE_PATTERN.search(text) is None:
        raise ParseError("telegram has no data lines")
    get = found.get
    stamp = get("0-0:1.0.0")
    return build.telegram(  # positional, in field order: Telegram(...) at a third of the cost
        text[1 : text.find("\n")].rstrip("\r"),  # header
        crc,
        parse_timestamp(stamp, local_tz) if stamp is not None else None,
        _equipment_id(get),
        build.registers(
            _energy(get, "1-0:1.8.1"),
            _energy(get, "1-0:1.8.2"),
            _energy(get, "1-0:2.8.1"),
            _energy(get, "1-0:2.8.2"),
            _energy(get, "1-0:1.8.0"),
            _energy(get, "1-0:2.8.0"),
        ),
        _reading(get, "1-0:1.7.0", power_of),  # power_import_w
        _reading(get, "1-0:2.7.0", power_of),  # power_export_w
        _int(get("0-0:96.14.0")),  # tariff
        text,
        local_tz,
    )


def _reading(get: Getter, obis: str, convert: Callable[[str], int]) -> int | None:
    """A register or power line as an exact integer; a bad value rejects the telegram (R3: a
    value that is no reading never reaches a register, and the rejection is counted)."""
    raw = get(obis)
    if raw is None:
        return None
    try:
        return convert(raw)
    except ParseError as exc:
        raise ParseError(f"{obis}: {exc}") from None


def _energy(get: Getter, obis: str) -> int | None:
    """`_reading(get, obis, energy_of)` with its hot case inline (every register of a DSMR
    meter, each telegram: `123456.789*kWh`, at most 9 digits): dropping the point is the whole
    conversion. Anything else goes the checked way."""
    raw = get(obis)
    if raw is None:
        return None
    if raw[-4:] == "*kWh" and raw[-8:-7] == ".":
        digits = raw[:-8] + raw[-7:-4]
        if len(digits) <= 9 and digits.isdigit() and digits.isascii():
            return int(digits)
    return _reading(get, obis, energy_of)


def _int(raw: str | None) -> int | None:
    return integer(raw) if raw is not None else None


def _equipment_id(get: Callable[[str], str | None]) -> str | None:
    for key in _EQUIPMENT_ID_KEYS:
        ident = get(key)
        if ident:
            return ident
    return None
