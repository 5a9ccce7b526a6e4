"""CRC-16/ARC for P1 telegrams (DSMR >= 4).

Reflected polynomial 0xA001, init 0, no final xor, over every byte from `/` through `!`. The
compiled implementation from crcmod-plus does the hot path; the pure-Python table version is the
fallback where no wheel exists and the reference the tests compare it with.
"""

from __future__ import annotations

from collections.abc import Callable

_POLY_REFLECTED = 0xA001


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_arc_pure(data: bytes) -> int:
    """Table-driven CRC-16/ARC in pure Python (identical results, ~50x slower)."""
    crc = 0
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def _compiled() -> Callable[[bytes], int] | None:
    try:
        import crcmod.crcmod  # type: ignore[import-untyped]
        import crcmod.predefined  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - only on platforms without a wheel
        return None
    # Without its C extension crcmod is slower than our own table loop.
    if not getattr(crcmod.crcmod, "_usingExtension", False):  # pragma: no cover
        return None
    fn: Callable[[bytes], int] = crcmod.predefined.mkCrcFun("crc-16")
    return fn


crc16_arc: Callable[[bytes], int] = _compiled() or crc16_arc_pure
"""CRC-16/ARC of `data`: compiled when available, else the pure-Python table loop."""

USING_COMPILED_CRC = crc16_arc is not crc16_arc_pure
