"""The P1 core: pure (no I/O) framing, CRC checking, decryption and parsing of DSMR telegrams.

`decode(data)` is the convenience API: every telegram in `data`, bad frames skipped. For a live
line use `P1Decoder` (incremental, with counters), or `Framer` and `parse_telegram` directly.
"""

from edge.p1.decoder import DecodeStats, Event, P1Decoder, Rejected, decode
from edge.p1.framer import Framer
from edge.p1.model import (
    MBUS_ELECTRICITY,
    MBUS_GAS,
    MBUS_HEAT,
    MBUS_WATER,
    MBusDevice,
    MonthPeak,
    PowerFailure,
    Registers,
    Telegram,
)
from edge.p1.parser import check_crc, parse_telegram
from edge.p1.values import Value, parse_timestamp, to_base_units

__all__ = [
    "MBUS_ELECTRICITY",
    "MBUS_GAS",
    "MBUS_HEAT",
    "MBUS_WATER",
    "DecodeStats",
    "Event",
    "Framer",
    "MBusDevice",
    "MonthPeak",
    "P1Decoder",
    "PowerFailure",
    "Registers",
    "Rejected",
    "Telegram",
    "Value",
    "check_crc",
    "decode",
    "parse_telegram",
    "parse_timestamp",
    "to_base_units",
]
