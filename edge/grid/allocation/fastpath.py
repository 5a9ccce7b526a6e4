"""A fast path through the one block spelling our gateways sign, for the allocation run.

Strategy: the agent encodes every day block the same way (SPEC §6: our COSE_Sign1 profile with
the protected header {alg, content type, kid}, a deterministic CBOR payload with the 17 keys in
canonical order), so the run can walk those bytes with a few slice comparisons instead of
building ~600 Python objects per block with a generic decoder (cbor2: ~50 µs a block, most of
the run). `split_block` accepts a block only when every byte is where that spelling puts it:
definite lengths, the exact keys in canonical order, no tags, no floats, nothing trailing; the
values it gives are then exactly what `decode_envelope` + `decode_payload` would give. Anything
else — another spelling, a hostile or broken block — returns None and takes the generic path,
which gives the problem its words. It does not check signatures (the collector did, on ingest).

The readings stay bytes: a register's array is kept as (offset, width) when all its items have
one width (the usual case: a meter's cumulative Wh rarely crosses a width within a day), so the
run converts whole chunks of blocks to numbers in one array operation (`gather`); an array with
nulls or mixed widths is parsed here into a list (None where missing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

import cbor2
import numpy as np

from edge.blocks.cose import (
    ALG_EDDSA,
    DAY_CONTENT_TYPE,
    HEADER_ALG,
    HEADER_CONTENT_TYPE,
    HEADER_KID,
    KID_SIZE,
    SIGNATURE_SIZE,
)
from edge.blocks.payload import FORMAT_VERSION, OBIS, PAYLOAD_KEYS, REGISTERS

_PROTECTED = cbor2.dumps({HEADER_ALG: ALG_EDDSA, HEADER_CONTENT_TYPE: DAY_CONTENT_TYPE,
                          HEADER_KID: bytes(KID_SIZE)}, canonical=True)[:-KID_SIZE]  # fmt: skip
# tag 18, array of 4, the protected bstr (its kid is any 8 bytes), then the empty unprotected map
_ENVELOPE = b"\xd2\x84" + cbor2.dumps(bytes(len(_PROTECTED) + KID_SIZE))[:2] + _PROTECTED
# the payload's keys as canonical CBOR orders them (by their encoded bytes)
KEY_ORDER = tuple(sorted(PAYLOAD_KEYS, key=cbor2.dumps))
REG_ORDER = tuple(sorted(REGISTERS, key=cbor2.dumps))  # export_t1 … import_t2, as encoded
_SMALL = bytes(range(24))  # uints below 24 are their own head byte
_MEASURED = cbor2.dumps("measured")
_MISSING = cbor2.dumps("missing")
_HEADS = {0x18: 2, 0x19: 3, 0x1A: 5, 0x1B: 9}  # head byte: item width (head + big-endian)

Readings = tuple[int, int] | list[int | None]  # (offset, item width) in the block, or values


def _alternatives(*options: bytes) -> bytes:
    return b"(?:" + b"|".join(options) + b")"


# one short text (< 24 bytes: every text our blocks carry), one uint, one reading item; each
# alternative starts with its own head byte, so the tokenising never has two choices
_TEXT = _alternatives(*(re.escape(bytes((0x60 + k,))) + b".{%d}" % k for k in range(24)))
_UINT = _alternatives(rb"[\x00-\x17]", rb"\x18.", rb"\x19.{2}", rb"\x1a.{4}", rb"\x1b.{8}")
_ITEM = _alternatives(_UINT, rb"\xf6")
_STATUS = _alternatives(rb"\x68measured", rb"\x6cinterpolated", rb"\x67missing")


def _k(key: str) -> bytes:
    return re.escape(cbor2.dumps(key))


_PARTS = {
    "v": _k("v") + re.escape(cbor2.dumps(FORMAT_VERSION)),
    "seq": _k("seq") + _UINT,
    "step": _k("step") + _UINT,
    "obis": _k("obis") + re.escape(cbor2.dumps(list(OBIS))),
    "prev": _k("prev") + rb"(?:\xf6|\x58\x20.{32})",
    # only empty flag lists (the usual day); a flag anywhere takes the generic path
    "flags": _k("flags") + rb"\x98(?P<flags_n>.)(?P<flags>\x80*+)",
}
_HEAD_KEYS = KEY_ORDER[: KEY_ORDER.index("status")]
# the envelope and the payload up to its status array, as one pattern (C speed); the long
# arrays after it are checked by slice comparisons, which the regex engine is slower at
_HEAD = re.compile(
    re.escape(_ENVELOPE)
    + rb".{8}\xa0\x59(?P<size>.{2})\xb1"
    + b"".join(_PARTS.get(k, _k(k) + b"(?P<%s>%s)" % (k.encode(), _TEXT)) for k in _HEAD_KEYS)
    + re.escape(cbor2.dumps("status"))
    + rb"\x98",
    re.DOTALL,
)
_CREATED = re.compile(_k("created") + b"(?P<created>%s)" % _TEXT + _k("readings") + rb"\xa4",
                      re.DOTALL)  # fmt: skip
_TIME_SYNC = re.compile(_k("time_sync") + b"(?P<time_sync>%s)" % _TEXT, re.DOTALL)
_REG_KEYS = {r: cbor2.dumps(r) + b"\x98" for r in REG_ORDER}
_STATUS_RUN = re.compile(_STATUS + b"*+")
_STATUS_TOKEN = re.compile(_STATUS)
_ITEM_RUN = re.compile(_ITEM + b"*+", re.DOTALL)
_ITEM_TOKEN = re.compile(_ITEM, re.DOTALL)
_FIELDS = ("day", "ap", "role", "meter", "tz", "start")  # the texts the run reads
_SIGNATURE = b"\x58\x40"
_TOKENS = (b"\x68measured", b"\x6cinterpolated", b"\x67missing")  # as _STATUS spells them
_ALL_MEASURED: dict[int, bytes] = {}  # n: the status array of n `measured`, built once
_REG_KEY_LIST = tuple(_REG_KEYS[r] for r in REG_ORDER)
_KEY_SIZE = len(_REG_KEY_LIST[0])  # "export_t1" …: the same length each
_REG_AT = tuple(REG_ORDER.index(r) for r in REGISTERS)


class _NotFast(Exception):
    """The block is not in the one spelling: the generic decoder takes it."""


class FastBlock(NamedTuple):  # a tuple: built ~100 000 times a run, cheaply
    """What the allocation run reads from a block, in the fast path's terms."""

    day: str
    ap: str
    role: str
    meter: str
    tz: str
    start: str
    intervals: int  # entries of status and of flags (the same, or the block is not fast)
    unusable: list[int]  # intervals whose status is `missing`
    readings: tuple[Readings, ...]  # per register in REGISTERS order
    boundaries: int  # items of every readings array (the same, or the block is not fast)

    def reading(self, cose: bytes, at: int) -> tuple[int, int] | None:
        """(import, export) Wh at boundary `at` (−1: the last), None where any is unknown."""
        return _reading(cose, self.readings, at % self.boundaries)


class EdgeBlock(NamedTuple):
    """What the run reads from a neighbour day's block: its boundary reading at the shared
    midnight (the day before's last, the day after's first), None where any is unknown."""

    day: str
    ap: str
    meter: str
    reading: tuple[int, int] | None


def _value(cose: bytes, spec: Readings, at: int) -> int | None:
    if isinstance(spec, list):
        return spec[at]
    offset, width = spec
    if width == 1:
        return cose[offset + at]
    start = offset + at * width + 1
    return int.from_bytes(cose[start : start + width - 1], "big")


def split_block(cose: bytes, edges: Mapping[bytes, int] | None = None
                ) -> FastBlock | EdgeBlock | None:  # fmt: skip
    """The block's fields if it is in our one spelling, else None (see the module).

    `edges` maps a neighbour day (its CBOR text) to the boundary the run reads of it (−1: the
    last, 0: the first): such a block is walked as strictly, but gives only that reading.
    """
    try:
        return _split(cose, edges)
    except (_NotFast, IndexError, UnicodeDecodeError):
        return None


def _split(d: bytes, edges: Mapping[bytes, int] | None) -> FastBlock | EdgeBlock:
    head = _HEAD.match(d)
    if head is None:
        raise _NotFast
    at = edges.get(head.group("day")) if edges else None
    pos = head.end()
    size = int.from_bytes(head.group("size"), "big")
    end = head.end("size") + size  # the payload's end
    if size < 256 or len(d) != end + 2 + SIGNATURE_SIZE:
        raise _NotFast  # a shorter payload has a shorter head: the generic path judges it
    if not d.startswith(_SIGNATURE, end):
        raise _NotFast
    n, flags_n, flags = d[pos], *head.group("flags_n", "flags")
    if len(flags) != flags_n[0] or flags_n[0] != n or not n:
        raise _NotFast  # a flag somewhere (rare): the generic path reads it
    if at is not None:
        return _edge(d, head, pos + 1, end, n, at)
    day, ap, role, meter, tz, start = (g[1:].decode() for g in head.group(*_FIELDS))
    head.group("gw")[1:].decode()  # not read by the run, but the decoder would refuse bad UTF-8
    pos += 1
    unusable: list[int] = []
    if d.startswith(_MEASURED * n, pos):
        pos += len(_MEASURED) * n
    else:
        run = _STATUS_RUN.match(d, pos)
        tokens = _STATUS_TOKEN.findall(d, pos, run.end()) if run else []
        if len(tokens) != n or run is None:
            raise _NotFast  # a status we do not know: the generic path marks it unusable
        unusable = [k for k, token in enumerate(tokens) if token == _MISSING]
        pos = run.end()
    created = _CREATED.match(d, pos)
    if created is None:
        raise _NotFast
    created.group("created")[1:].decode()
    pos = created.end()
    found: dict[str, Readings] = {}
    boundaries = 0
    for register in REG_ORDER:
        if not d.startswith(_REG_KEYS[register], pos):
            raise _NotFast
        count = d[pos + len(_REG_KEYS[register])]
        if boundaries and count != boundaries:
            raise _NotFast
        boundaries = count
        found[register], pos = _register(d, pos + len(_REG_KEYS[register]) + 1, count)
    time_sync = _TIME_SYNC.match(d, pos)
    if time_sync is None or time_sync.end() != end or not boundaries:
        raise _NotFast
    time_sync.group("time_sync")[1:].decode()
    readings = tuple(found[r] for r in REGISTERS)
    return FastBlock(day, ap, role, meter, tz, start, n, unusable, readings, boundaries)


def _edge(d: bytes, head: re.Match[bytes], pos: int, end: int, n: int, at: int) -> EdgeBlock:
    """A neighbour day's block from its status array on: walked as strictly as `_split` (so
    exactly what the decoder reads), but of each register only item `at` is read."""
    measured = _ALL_MEASURED.get(n) or _ALL_MEASURED.setdefault(n, _MEASURED * n)
    if d.startswith(measured, pos):
        pos += len(measured)
    else:
        run = _STATUS_RUN.match(d, pos)
        status = d[pos : run.end()] if run else b""
        if run is None or sum(status.count(t) for t in _TOKENS) != n:
            raise _NotFast  # (a token cannot occur across two: each starts with its own letter)
        pos = run.end()
    created = _CREATED.match(d, pos)
    if created is None:
        raise _NotFast
    pos = created.end()
    values: list[int | None] = []
    count = d[pos + _KEY_SIZE]
    if not count:
        raise _NotFast
    at %= count
    for key in _REG_KEY_LIST:
        if not d.startswith(key, pos) or d[pos + _KEY_SIZE] != count:
            raise _NotFast
        pos += _KEY_SIZE + 1
        first = d[pos]
        width = _HEADS.get(first, 1 if first < 0x18 else 0)
        stop = pos + count * width
        if width > 1 and d[pos:stop:width] == bytes((first,)) * count:  # uniform (the usual)
            begin = pos + at * width + 1
            values.append(int.from_bytes(d[begin : begin + width - 1], "big"))
        else:
            spec, stop = _register(d, pos, count)
            values.append(_value(d, spec, at))
        pos = stop
    time_sync = _TIME_SYNC.match(d, pos)
    if time_sync is None or time_sync.end() != end:
        raise _NotFast
    # not read, but the decoder would refuse bad UTF-8 (a NUL between the texts ends any
    # multi-byte sequence, so the joined texts decode exactly when each one does)
    b"\x00".join((created.group("created")[1:], time_sync.group("time_sync")[1:],
                  *(g[1:] for g in head.group("gw", "role", "tz", "start")))).decode()  # fmt: skip
    day, ap, meter = (g[1:].decode() for g in head.group("day", "ap", "meter"))
    a, b, c, e = (values[k] for k in _REG_AT)
    if a is None or b is None or c is None or e is None:
        return EdgeBlock(day, ap, meter, None)
    return EdgeBlock(day, ap, meter, (a + b, c + e))


def _reading(cose: bytes, readings: tuple[Readings, ...], at: int) -> tuple[int, int] | None:
    values = [_value(cose, spec, at) for spec in readings]
    if None in values:
        return None
    a, b, c, d = values
    return a + b, c + d  # type: ignore[operator]


def _register(d: bytes, pos: int, count: int) -> tuple[Readings, int]:
    """The readings array of `count` items at `pos`, and the offset after it."""
    head = d[pos]
    width = _HEADS.get(head, 1 if head < 0x18 else 0)
    end = pos + count * width
    uniform = width and end <= len(d) and d[pos:end:width] == bytes((head,)) * count
    if uniform and (width > 1 or not d[pos:end].translate(None, _SMALL)):
        return (pos, width), end
    run = _ITEM_RUN.match(d, pos)
    assert run is not None  # `*+` matches the empty string too
    tokens = _ITEM_TOKEN.findall(d, pos, run.end())
    if len(tokens) != count:
        raise _NotFast
    values = [None if t == b"\xf6" else t[0] if len(t) == 1 else int.from_bytes(t[1:], "big")
              for t in tokens]  # fmt: skip
    return values, run.end()


def gather(data: list[bytes], specs: list[tuple[int, int, int]], boundaries: int) -> np.ndarray:
    """Values (len(specs), boundaries) float64 of (block, offset, width) uniform arrays."""
    out = np.empty((len(specs), boundaries))
    if not specs:
        return out
    lengths = np.fromiter((len(x) for x in data), dtype=np.int64, count=len(data))
    base = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    joined = np.frombuffer(b"".join(data), dtype=np.uint8)
    table = np.array(specs, dtype=np.int64).reshape(-1, 3)
    starts = base[table[:, 0]] + table[:, 1]
    widths = table[:, 2]
    for width in np.unique(widths).tolist():
        rows = np.flatnonzero(widths == width)
        # each array is boundaries × width contiguous bytes: a window per array, one copy
        windows = np.lib.stride_tricks.sliding_window_view(joined, boundaries * width)
        raw = windows[starts[rows]].reshape(len(rows), boundaries, width)
        if width == 1:
            out[rows] = raw[:, :, 0]
            continue
        big_endian = np.ascontiguousarray(raw[:, :, 1:]).view(f">u{width - 1}")
        out[rows] = big_endian[:, :, 0]
    return out
