"""Strict CBOR decoding across the cbor2 versions we accept (5.6 … 6.x).

32-bit Raspberry Pi OS gets cbor2 5 (its last pure-Python wheel: no compiler on the Pi); elsewhere
cbor2 6. Untrusted bytes must decode the same on both: no indefinite-length items, and no
duplicate map keys where a signed structure is read (two values for one key would let a reader
see another payload than the signer's check did). cbor2 6 refuses both itself; on cbor2 5 a
well-formedness scan over the bytes refuses them before `cbor2.loads` sees them.
"""

from __future__ import annotations

from typing import Any, Final

import cbor2

MAX_DEPTH: Final = 64  # our structures nest 4 deep; a bound keeps the scan's recursion small
# what cbor2 6 decodes a read-only map to; cbor2 5 calls it FrozenDict
_FROZEN: type = getattr(cbor2, "frozendict", None) or getattr(cbor2, "FrozenDict")  # noqa: B009
CBOR_MAPS: Final[tuple[type, ...]] = (dict, _FROZEN)


def _native_options() -> bool:
    try:
        cbor2.loads(b"\xa0", allow_duplicate_keys=False, allow_indefinite=False)
    except TypeError:
        return False
    return True


NATIVE: Final = _native_options()


def strict_loads(data: bytes, *, allow_duplicate_keys: bool = False) -> Any:
    """`cbor2.loads` refusing indefinite lengths (and duplicate keys unless allowed)."""
    if NATIVE:
        return cbor2.loads(data, allow_duplicate_keys=allow_duplicate_keys, allow_indefinite=False)
    scan(data, 0, allow_duplicate_keys=allow_duplicate_keys)  # trailing bytes: as cbor2 does
    return cbor2.loads(data)


def scan(data: bytes, pos: int, *, allow_duplicate_keys: bool = False, depth: int = 0) -> int:
    """Check the item at `pos` (definite lengths, unique keys); return the offset after it."""
    if depth > MAX_DEPTH:
        raise cbor2.CBORDecodeError("CBOR nested too deeply")
    major, arg, pos = _head(data, pos)
    if major in (0, 1, 7):
        return pos
    if major in (2, 3):
        if pos + arg > len(data):
            raise cbor2.CBORDecodeError("CBOR string runs past the end")
        return pos + arg
    if major == 6:  # a tag: its content follows
        return scan(data, pos, allow_duplicate_keys=allow_duplicate_keys, depth=depth + 1)
    keys: set[Any] = set()
    for _ in range(arg):  # every item takes at least one byte: a huge count hits the end
        start = pos
        pos = scan(data, pos, allow_duplicate_keys=allow_duplicate_keys, depth=depth + 1)
        if major == 5:
            if not allow_duplicate_keys:
                _unique(keys, data[start:pos])
            pos = scan(data, pos, allow_duplicate_keys=allow_duplicate_keys, depth=depth + 1)
    return pos


def _head(data: bytes, pos: int) -> tuple[int, int, int]:
    """(major type, argument, offset after the head) of the item at `pos`."""
    if pos >= len(data):
        raise cbor2.CBORDecodeError("CBOR item runs past the end")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    if info < 24:
        return major, info, pos + 1
    if info > 27:  # 28–30 reserved, 31 indefinite length (or "break")
        raise cbor2.CBORDecodeError("indefinite-length or reserved CBOR item")
    size = 1 << (info - 24)
    if pos + 1 + size > len(data):
        raise cbor2.CBORDecodeError("CBOR item runs past the end")
    return major, int.from_bytes(data[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


def _unique(keys: set[Any], encoded: bytes) -> None:
    key = cbor2.loads(encoded)
    identity: Any = key
    try:
        hash(key)
    except TypeError:  # an array or map as key: compare its encoding
        identity = encoded
    if identity in keys:
        raise cbor2.CBORDecodeError(f"duplicate key {key!r} in a CBOR map")
    keys.add(identity)
