"""Shared helpers for the simulator tests: the dsmr_parser peer and value conversions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dsmr_parser import telegram_specifications as ts
from dsmr_parser.parsers import TelegramParser

SPECS = {
    "dsmr22": ts.V2_2,
    "dsmr4": ts.V4,
    "dsmr5": ts.V5,
    "fluvius": ts.BELGIUM_FLUVIUS,
    "smarty": ts.LUXEMBOURG_SMARTY,
}


def peer(dialect: str) -> TelegramParser:
    """dsmr_parser with CRC checking on (off only for DSMR 2.2, which has no CRC)."""
    return TelegramParser(SPECS[dialect], apply_checksum_validation=dialect != "dsmr22")


def wh(obj: Any) -> int:
    """A parsed kWh value as exact integer Wh."""
    value = obj.value
    assert isinstance(value, Decimal)
    return int(value * 1000)


def registers(tel: Any) -> tuple[int, int, int, int]:
    return (
        wh(tel.ELECTRICITY_USED_TARIFF_1),
        wh(tel.ELECTRICITY_USED_TARIFF_2),
        wh(tel.ELECTRICITY_DELIVERED_TARIFF_1),
        wh(tel.ELECTRICITY_DELIVERED_TARIFF_2),
    )
