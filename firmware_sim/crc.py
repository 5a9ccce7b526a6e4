"""CRC-16/ARC for P1 telegrams, the simulator's own implementation.

Strategy: the compiled crcmod-plus function when it is installed (the hot path renders 86 400
telegrams a day), else a table-driven pure-Python fallback. The simulator never borrows the
agent's CRC so that the two implementations check each other.
"""

from __future__ import annotations

from collections.abc import Callable


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_arc_py(data: bytes) -> int:
    """CRC-16/ARC (reflected polynomial 0xA001, init 0, no final xor), table driven."""
    crc = 0
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def _pick() -> Callable[[bytes], int]:
    try:
        import crcmod.predefined
    except ImportError:  # pragma: no cover - crcmod-plus is a project dependency
        return crc16_arc_py
    fun: Callable[[bytes], int] = crcmod.predefined.mkCrcFun("crc-16")
    return fun


crc16_arc: Callable[[bytes], int] = _pick()
