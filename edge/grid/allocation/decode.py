"""Day blocks into columns, with the DSO validation of Meetcode 5.3.9 on the way.

Strategy: each block is split and decoded once with the block code (`decode_envelope`,
`decode_payload`); only its layout is checked in Python (day, zone, counts, role as
registered) and its readings are collected. Every few thousand blocks the readings become one
float array (None → nan; Wh registers are far below 2^53, so exact) and the checks run as array
operations: per register volumes ≥ 0 (which also catches an unknown boundary), per direction
< 120 % of the point's capacity, the block's own status and flags. The blocks of the day before
and after give the continuity check: a day's first reading must equal the previous day's last
of the same meter (and its last the next day's first), else that boundary is not used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from edge.blocks.cose import decode_envelope
from edge.blocks.days import day_layout, utc_text
from edge.blocks.payload import REGISTERS, decode_payload
from edge.errors import BlockError
from edge.grid.allocation.model import UNUSABLE_FLAGS, Columns, Points

CHUNK = 4096
_USABLE_STATUS = ("measured", "interpolated")


@dataclass(slots=True)
class _Edge:
    # what a neighbour day's block tells about the day: its boundary reading at midnight
    gw: str
    seq: int
    meter: Any
    imp: float
    exp: float
    sha: bytes


@dataclass(slots=True)
class _Chunk:
    # the readings go straight into one reused float array, (row, register × boundary): no
    # Python list per block survives the block, so the garbage collector has little to walk
    buffer: np.ndarray
    index: list[int] = field(default_factory=list)
    bad: list[tuple[int, list[int]]] = field(default_factory=list)  # (chunk row, intervals)

    def clear(self) -> None:
        self.index.clear()
        self.bad.clear()


def _reading(values: Any, at: int) -> tuple[float, float]:
    """(import, export) at boundary `at` of a decoded readings map; nan where unknown."""
    try:
        regs = [values[r][at] for r in REGISTERS]
    except (KeyError, IndexError, TypeError):
        return np.nan, np.nan
    if any(type(v) is not int for v in regs):
        return np.nan, np.nan
    return float(regs[0] + regs[1]), float(regs[2] + regs[3])


def decode_day(blocks: Iterable[tuple[str, str, int, bytes]], points: Points, tz: str) -> Columns:
    """Columns of `points.day` from (gw, ap, seq, COSE) blocks of that day and its neighbours."""
    day = points.day
    start, n = day_layout(day, tz)
    texts = {(day - timedelta(days=1)).isoformat(): -1, day.isoformat(): 0,
             (day + timedelta(days=1)).isoformat(): 1}  # fmt: skip
    size = len(points.rows)
    cols = Columns(
        imp=np.full((size, n + 1), np.nan), exp=np.full((size, n + 1), np.nan),
        ok=np.zeros((size, n), dtype=bool), received=np.zeros(size, dtype=bool),
        gw=[None] * size, seq_before=[None] * size, seq_after=[None] * size,
        rejected=np.zeros(size, dtype=bool),
    )  # fmt: skip
    meters: list[Any] = [None] * size
    before: dict[int, _Edge] = {}
    after: dict[int, _Edge] = {}
    chunk = _Chunk(np.empty((CHUNK, len(REGISTERS) * (n + 1))))
    layout = (utc_text(start), n)
    for gw, ap, seq, cose in blocks:
        try:
            payload = decode_payload(decode_envelope(cose)[2])
        except BlockError as exc:
            cols.problems.append(f"{gw}/{ap} seq {seq}: {exc}")
            continue
        where = texts.get(payload["day"]) if type(payload["day"]) is str else None
        i = points.index.get(ap)
        if where is None or payload["ap"] != ap:
            continue
        if i is None:
            cols.unregistered += where == 0
            continue
        if where != 0:  # a neighbour day: only its reading at our midnight matters
            imp, exp = _reading(payload["readings"], -1 if where < 0 else 0)
            edge = _Edge(gw, seq, payload["meter"], imp, exp, hashlib.sha256(cose).digest())
            (before if where < 0 else after)[i] = edge
            continue
        problem = _layout_problem(payload, points.rows[i].role, tz, layout)
        if problem is None and cols.received[i]:
            problem = "a second block for the point and day"
        if problem is not None:
            cols.problems.append(f"{gw}/{ap} seq {seq}: {problem}")
            cols.rejected[i] |= not cols.received[i]
            continue
        cols.received[i], cols.gw[i], meters[i] = True, gw, payload["meter"]
        cols.used.append((gw, ap, seq, hashlib.sha256(cose).digest()))
        _collect(chunk, i, payload, n)
        if len(chunk.index) >= CHUNK:
            _flush(chunk, points, cols, n)
    _flush(chunk, points, cols, n)
    cols.rejected &= ~cols.received
    _continuity(cols, points, meters, before, after, n)
    return cols


def _layout_problem(
    payload: Mapping[str, Any], role: str, tz: str, layout: tuple[str, int]
) -> str | None:
    start, n = layout
    if payload["role"] != role:
        return f"role {payload['role']!r} is not the registry's {role!r}"
    if payload["tz"] != tz or payload["start"] != start:
        return f"zone {payload['tz']!r} / start {payload['start']!r} is not {tz} / {start}"
    status, flags, readings = payload["status"], payload["flags"], payload["readings"]
    if type(status) is not list or type(flags) is not list or not len(status) == n == len(flags):
        return f"status and flags must have {n} entries"
    if type(readings) is not dict or any(
        type(readings.get(r)) is not list or len(readings[r]) != n + 1 for r in REGISTERS
    ):
        return f"readings must have {n + 1} boundaries per register"
    return None


def _collect(chunk: _Chunk, i: int, payload: Mapping[str, Any], n: int) -> None:
    readings, status, flags = payload["readings"], payload["status"], payload["flags"]
    row = len(chunk.index)
    try:  # None -> nan; Wh registers are far below 2^53, so exact
        chunk.buffer[row] = readings["import_t1"] + readings["import_t2"] + (
            readings["export_t1"] + readings["export_t2"])  # fmt: skip
    except (TypeError, ValueError):  # a reading that is no number: the block's readings unknown
        chunk.buffer[row] = np.nan
    chunk.index.append(i)
    bad: list[int] = []
    if status.count("measured") + status.count("interpolated") != n:
        bad += [k for k, s in enumerate(status) if s not in _USABLE_STATUS]
    if flags.count([]) != n:
        bad += [k for k, f in enumerate(flags) if type(f) is not list or UNUSABLE_FLAGS & set(f)]
    if bad:
        chunk.bad.append((row, bad))


def _flush(chunk: _Chunk, points: Points, cols: Columns, n: int) -> None:
    """The vectorised checks of one chunk of blocks; results go to their points' rows."""
    if not chunk.index:
        return
    index = np.array(chunk.index, dtype=np.int64)
    readings = chunk.buffer[: len(index)].reshape(len(index), len(REGISTERS), n + 1)
    good = (np.diff(readings, axis=2) >= 0).all(axis=1)  # nan compares False: unknown fails
    imp = readings[:, 0] + readings[:, 1]
    exp = readings[:, 2] + readings[:, 3]
    limit = points.limit_wh[index][:, None]
    good &= (np.diff(imp, axis=1) < limit) & (np.diff(exp, axis=1) < limit)
    for row, intervals in chunk.bad:
        good[row, intervals] = False
    cols.imp[index], cols.exp[index], cols.ok[index] = imp, exp, good
    chunk.clear()


def _continuity(
    cols: Columns, points: Points, meters: list[Any], before: dict[int, _Edge],
    after: dict[int, _Edge], n: int,
) -> None:  # fmt: skip
    """A day's first reading = the day before's last; its last = the next day's first."""
    for edges, at, interval, seqs in ((before, 0, 0, cols.seq_before),
                                      (after, n, n - 1, cols.seq_after)):  # fmt: skip
        for i, edge in edges.items():
            seqs[i] = edge.seq
            cols.gw[i] = cols.gw[i] or edge.gw
            if not cols.received[i] or edge.meter != meters[i]:
                continue
            here = (cols.imp[i, at], cols.exp[i, at])
            if np.isnan(edge.imp) or np.isnan(here[0]):
                continue
            cols.used.append((edge.gw, points.rows[i].ap, edge.seq, edge.sha))
            if here != (edge.imp, edge.exp):
                cols.imp[i, at] = cols.exp[i, at] = np.nan
                cols.ok[i, interval] = False
