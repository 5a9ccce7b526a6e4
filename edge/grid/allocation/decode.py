"""Day blocks into columns, with the DSO validation of Meetcode 5.3.9 on the way.

Strategy: the blocks come a batch at a time (`batch`); a block in our own spelling has been
split by the fast path there (its fields, and its readings already numbers), any other goes
through the block code's generic decoder (`decode_envelope`, `decode_payload`) here, so a
problem always has the generic decoder's words. Only the layout is checked per block in Python
(day, zone, counts, role as registered); at the end of each batch its readings are one float
array (None → nan; Wh registers are far below 2^53, so exact) and the checks run as array
operations: per register volumes ≥ 0 (which also catches an unknown boundary), per direction
< 120 % of the point's capacity, the block's own status and flags. The blocks of the day before
and after give the continuity check: a day's first reading must equal the previous day's last
of the same meter (and its last the next day's first), else that boundary is not used.

A neighbour day's block is read for that one boundary only (two thirds of what `grid allocate`
reads are such blocks): in our spelling `fastpath` walks it as strictly as a day's block but
gives only its reading at the shared midnight (`EdgeBlock`: no readings array, no SHA-256
unless the boundary is used, for input_sha256); any other spelling goes through the generic
decoder as before. What of a neighbour block still counts for this day, and what not:
- counts: a block that does not decode at all is listed among the day's problems and gives no
  boundary (its day is unknown: it may be this day's own block); the collector verified every
  stored block's signature against its gateway's bound key, so a forged one never reaches the
  store, and the run does not check signatures again;
- counts: the boundary is used only when all four registers are known there, the block is of
  the point it is stored under and of the same meter as the day's block (a meter swap at
  midnight is no continuity failure), and then it goes into input_sha256; its seq and gateway
  name the gap's request, and for a point without a block of the day its volumes give the
  profile estimate (`recent`);
- does not count: its intervals' status, flags, volumes, capacity and layout (counts, zone,
  role) are its own day's validation, done by that day's run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import cbor2
import numpy as np

from edge.blocks.cose import decode_envelope
from edge.blocks.days import day_layout, utc_text
from edge.blocks.payload import REGISTERS, decode_payload
from edge.errors import BlockError
from edge.grid.allocation.batch import BATCH, split_batches
from edge.grid.allocation.fastpath import EdgeBlock, FastBlock
from edge.grid.allocation.model import UNUSABLE_FLAGS, Columns, Points

_USABLE_STATUS = ("measured", "interpolated")


@dataclass(slots=True)
class _Edge:
    # what a neighbour day's block tells about the day: its boundary reading at midnight
    gw: str
    seq: int
    meter: Any
    imp: float
    exp: float
    cose: bytes  # its SHA-256 goes into input_sha256 only if the boundary is used


@dataclass(slots=True)
class _Chunk:
    # the readings go straight into one reused float array, (row, register × boundary): no
    # Python list per block survives the block, so the garbage collector has little to walk
    buffer: np.ndarray
    index: list[int] = field(default_factory=list)
    bad: list[tuple[int, list[int]]] = field(default_factory=list)  # (chunk row, intervals)
    # fast-path rows: their readings are in the batch's split, copied over at once at its end
    fast: list[int] = field(default_factory=list)  # chunk rows
    split: list[int] = field(default_factory=list)  # the rows in the split

    def clear(self) -> None:
        for part in (self.index, self.bad, self.fast, self.split):
            part.clear()


def _reading(values: Any, at: int) -> tuple[float, float]:
    """(import, export) at boundary `at` of a decoded readings map; nan where unknown."""
    try:
        regs = [values[r][at] for r in REGISTERS]
    except (KeyError, IndexError, TypeError):
        return np.nan, np.nan
    if any(type(v) is not int for v in regs):
        return np.nan, np.nan
    try:
        return float(regs[0] + regs[1]), float(regs[2] + regs[3])
    except OverflowError:  # a bignum reading (hostile or broken): unknown, not a crash
        return np.nan, np.nan


def decode_day(
    blocks: Iterable[tuple[str, str, int, bytes]],
    points: Points,
    tz: str,
    *,
    fast: bool = True,
) -> Columns:
    """Columns of `points.day` from (gw, ap, seq, COSE) blocks of that day and its neighbours.

    `fast` lets the blocks in our own spelling take `fastpath` (the same Columns, faster);
    False decodes every block with the generic decoder (the tests compare the two).
    """
    decoder = _Decoder(points, tz)
    edges = {cbor2.dumps(text): -1 if where < 0 else 0
             for text, where in decoder.texts.items() if where}  # fmt: skip
    day = points.day.isoformat()
    for batch, split in split_batches(blocks, day, decoder.n + 1, fast, edges):
        for k, (gw, ap, seq, cose) in enumerate(batch):
            found, sha, row = split.blocks[k], split.shas[k], split.row_of[k]
            if type(found) is EdgeBlock:
                decoder.take_edge(gw, ap, seq, cose, found)
            elif type(found) is not FastBlock or not decoder.take_fast(
                gw, ap, seq, cose, found, sha, row
            ):
                decoder.take(gw, ap, seq, cose, sha)
        decoder.end_batch(split.rows)
    return decoder.finish()


class _Decoder:
    """The state of one day's decode: the columns, the meters seen, the neighbour days' edges."""

    def __init__(self, points: Points, tz: str) -> None:
        day = points.day
        start, n = day_layout(day, tz)
        self.texts = {(day - timedelta(days=1)).isoformat(): -1, day.isoformat(): 0,
                      (day + timedelta(days=1)).isoformat(): 1}  # fmt: skip
        size = len(points.rows)
        self.cols = Columns(
            imp=np.full((size, n + 1), np.nan), exp=np.full((size, n + 1), np.nan),
            ok=np.zeros((size, n), dtype=bool), received=np.zeros(size, dtype=bool),
            gw=[None] * size, seq_before=[None] * size, seq_after=[None] * size,
            rejected=np.zeros(size, dtype=bool),
        )  # fmt: skip
        self.points, self.tz, self.n = points, tz, n
        self.meters: list[Any] = [None] * size
        self.before: dict[int, _Edge] = {}
        self.after: dict[int, _Edge] = {}
        # a batch's blocks fill at most one row each: the chunk is one batch
        self.chunk = _Chunk(np.empty((BATCH, len(REGISTERS) * (n + 1))))
        self.layout = (utc_text(start), n)
        self.received: list[bool] = [False] * size  # cols.received as Python bools: cheaper

    def take_edge(self, gw: str, ap: str, seq: int, cose: bytes, block: EdgeBlock) -> None:
        """Take a neighbour day's block in our spelling: its boundary reading only."""
        i = self.points.index.get(ap)
        if i is None or block.ap != ap:
            return
        imp, exp = (np.nan, np.nan) if block.reading is None else map(float, block.reading)
        where = self.texts[block.day]
        (self.before if where < 0 else self.after)[i] = _Edge(gw, seq, block.meter, imp, exp, cose)

    def take_fast(
        self, gw: str, ap: str, seq: int, cose: bytes, block: FastBlock, sha: bytes, row: int
    ) -> bool:
        """Take a block the fast path split (`row`: its readings' row in the split, −1 if it
        has not the day's count); False: let `take` judge it (in the decoder's words)."""
        where = self.texts.get(block.day)
        if where is None or block.ap != ap:
            return True
        i = self.points.index.get(ap)
        if i is None:
            self.cols.unregistered += where == 0
            return True
        if where != 0:
            reading = block.reading(cose, -1 if where < 0 else 0)
            imp, exp = (np.nan, np.nan) if reading is None else map(float, reading)
            self._edge(where, i, _Edge(gw, seq, block.meter, imp, exp, cose))
            return True
        start, n = self.layout
        fits = (block.role, block.tz, block.start, block.intervals, block.boundaries) == (
            self.points.rows[i].role, self.tz, start, n, n + 1)  # fmt: skip
        if not fits or self.received[i] or row < 0:
            return False
        self._accept(gw, ap, seq, sha, i, block.meter)
        chunk = self.chunk
        at = len(chunk.index) - 1
        chunk.fast.append(at)
        chunk.split.append(row)
        if block.unusable:
            chunk.bad.append((at, block.unusable))
        return True

    def take(self, gw: str, ap: str, seq: int, cose: bytes, sha: bytes) -> None:
        """Take a block through the generic decoder (any spelling, any problem)."""
        cols = self.cols
        try:
            payload = decode_payload(decode_envelope(cose)[2])
        except BlockError as exc:
            cols.problems.append(f"{gw}/{ap} seq {seq}: {exc}")
            return
        where = self.texts.get(payload["day"]) if type(payload["day"]) is str else None
        i = self.points.index.get(ap)
        if where is None or payload["ap"] != ap:
            return
        if i is None:
            cols.unregistered += where == 0
            return
        if where != 0:  # a neighbour day: only its reading at our midnight matters
            imp, exp = _reading(payload["readings"], -1 if where < 0 else 0)
            self._edge(where, i, _Edge(gw, seq, payload["meter"], imp, exp, cose))
            return
        problem = _layout_problem(payload, self.points.rows[i].role, self.tz, self.layout)
        if problem is None and self.received[i]:
            problem = "a second block for the point and day"
        if problem is not None:
            cols.problems.append(f"{gw}/{ap} seq {seq}: {problem}")
            cols.rejected[i] |= not self.received[i]
            return
        self._accept(gw, ap, seq, sha, i, payload["meter"])
        _collect(self.chunk, payload, self.n)

    def _edge(self, where: int, i: int, edge: _Edge) -> None:
        (self.before if where < 0 else self.after)[i] = edge

    def _accept(self, gw: str, ap: str, seq: int, sha: bytes, i: int, meter: Any) -> None:
        self.received[i] = True
        self.cols.received[i], self.cols.gw[i], self.meters[i] = True, gw, meter
        self.cols.used.append((gw, ap, seq, sha))
        self.chunk.index.append(i)

    def end_batch(self, rows: np.ndarray) -> None:
        """The batch's fast rows from its split, then the checks of the batch's blocks."""
        chunk = self.chunk
        if chunk.fast:
            chunk.buffer[chunk.fast] = rows[chunk.split]
        _flush(chunk, self.points, self.cols, self.n)

    def finish(self) -> Columns:
        """The columns, once every block is in: the last chunk, then continuity."""
        cols = self.cols
        _flush(self.chunk, self.points, cols, self.n)
        cols.rejected &= ~cols.received
        _continuity(cols, self.points, self.meters, self.before, self.after, self.n)
        for edges in (self.after, self.before):  # the day before's block wins
            cols.edge_blocks.update((i, e.cose) for i, e in edges.items() if not cols.received[i])
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


def _collect(chunk: _Chunk, payload: Mapping[str, Any], n: int) -> None:
    readings, status, flags = payload["readings"], payload["status"], payload["flags"]
    row = len(chunk.index) - 1  # `_accept` has added the row
    try:  # None -> nan; Wh registers are far below 2^53, so exact
        chunk.buffer[row] = readings["import_t1"] + readings["import_t2"] + (
            readings["export_t1"] + readings["export_t2"])  # fmt: skip
    except (TypeError, ValueError, OverflowError):  # no number, or a bignum: readings unknown
        chunk.buffer[row] = np.nan
    bad: list[int] = []
    if status.count("measured") + status.count("interpolated") != n:
        bad += [k for k, s in enumerate(status) if s not in _USABLE_STATUS]
    if flags.count([]) != n:
        bad += [k for k, f in enumerate(flags) if _unusable(f)]
    if bad:
        chunk.bad.append((row, bad))


def _unusable(flags: Any) -> bool:
    """An interval's flags make its value unusable (no list, or a list of unhashables: too)."""
    if type(flags) is not list:
        return True
    try:
        return not UNUSABLE_FLAGS.isdisjoint(flags)
    except TypeError:  # a list or map among the flags: malformed, not a crash
        return True


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
    """A day's first reading = the day before's last; its last = the next day's first.

    As array operations over all edges of a side (there are about two per point); only the
    SHA-256 of each block whose boundary is used is taken per block.
    """
    for edges, at, interval, seqs in ((before, 0, 0, cols.seq_before),
                                      (after, n, n - 1, cols.seq_after)):  # fmt: skip
        if not edges:
            continue
        rows, items = list(edges), list(edges.values())
        for i, edge in zip(rows, items, strict=True):
            seqs[i] = edge.seq
            cols.gw[i] = cols.gw[i] or edge.gw
        index = np.array(rows, dtype=np.int64)
        imp = np.fromiter((e.imp for e in items), float, len(items))
        exp = np.fromiter((e.exp for e in items), float, len(items))
        same = np.fromiter((e.meter == meters[i] for i, e in zip(rows, items, strict=True)),
                           bool, len(items))  # fmt: skip
        here_imp, here_exp = cols.imp[index, at], cols.exp[index, at]
        use = cols.received[index] & same & ~np.isnan(imp) & ~np.isnan(here_imp)
        for k in np.flatnonzero(use).tolist():
            edge = items[k]
            sha = hashlib.sha256(edge.cose).digest()
            cols.used.append((edge.gw, points.rows[rows[k]].ap, edge.seq, sha))
        bad = index[use & ((here_imp != imp) | (here_exp != exp))]  # nan != anything
        cols.imp[bad, at] = cols.exp[bad, at] = np.nan
        cols.ok[bad, interval] = False
