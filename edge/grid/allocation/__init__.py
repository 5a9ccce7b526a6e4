"""The grid operator's daily allocation run (SPEC §11), as a pure core over plain values.

    result = allocate_day(day, blocks, registry_rows, rejected_aps=..., k=10)
    result.files  # {"allocation.csv": text, "published.csv": …, "completeness.csv": …,
                  #  "run.json": …}

Steps: the day's points from the registry (`points`); the blocks of the day and its two
neighbours decoded and validated into columns (`decode`); substitution (`substitute`); primary
= main − Σ secondaries and the sums per cell (`cells`); the privacy merge (`privacy`); the
files (`report`). No I/O: the caller reads the store and writes the files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from edge import __version__
from edge.blocks.days import day_layout
from edge.grid.allocation.cells import allocate_cells, point_nets
from edge.grid.allocation.decode import decode_day
from edge.grid.allocation.model import Allocation, Columns, Points
from edge.grid.allocation.points import day_points
from edge.grid.allocation.privacy import publish
from edge.grid.allocation.recent import recent_volumes
from edge.grid.allocation.report import AreaCounts, allocation_csv, completeness_csv, run_json
from edge.grid.allocation.substitute import substitute
from edge.grid.defaults import ALLOCATION_K, ALLOCATION_TZ
from edge.grid.registry import RegistryRow, registry_csv

DEFAULT_K = ALLOCATION_K
DEFAULT_TZ = ALLOCATION_TZ


@dataclass(frozen=True, slots=True)
class Gap:
    """A point of the day whose block did not come (or was rejected): what to ask for."""

    ap: str
    status: str  # "missing" or "rejected"
    gw: str | None
    first_seq: int | None  # the seqs to ask a resend of, where the chain tells them
    last_seq: int | None


@dataclass(frozen=True, slots=True)
class Result:
    """The run's result: the files' text, the allocation itself and the gaps."""

    files: dict[str, str]
    allocation: Allocation
    published: Allocation
    completeness: tuple[AreaCounts, ...]
    gaps: tuple[Gap, ...]
    problems: tuple[str, ...]


def allocate_day(
    day: date,
    blocks: Iterable[tuple[str, str, int, bytes]],
    registry: Sequence[RegistryRow],
    *,
    rejected_aps: Collection[str] = (),
    k: int = DEFAULT_K,
    tz: str = DEFAULT_TZ,
    history: Callable[[str], bytes | None] | None = None,
) -> Result:
    """Allocate local `day` from (gw, ap, seq, COSE) blocks of the day and its neighbours.

    `history(ap)`: the point's newest stored day block before the day (COSE), asked only for a
    point without a block of the day or its neighbours, for its profile estimate (`substitute`).
    """
    if k < 1:
        raise ValueError("--min-points must be at least 1")
    points = day_points(registry, day)
    start, _ = day_layout(day, tz)
    cols = decode_day(blocks, points, tz)
    for ap in rejected_aps:
        i = points.index.get(ap)
        if i is not None and not cols.received[i]:
            cols.rejected[i] = True
    recent = recent_volumes(points, cols, cols.edge_blocks, history)
    imp, exp, substituted = substitute(points, cols, recent)
    cols.imp = cols.exp = np.empty((0, 0))  # the readings are volumes now: their memory back
    net, point_substituted = point_nets(points, imp, exp, substituted)
    del imp, exp, substituted
    allocation = allocate_cells(points, start, net, point_substituted)
    published, remainder = publish(allocation, k)
    counts, gaps = completeness(points, cols, point_substituted)
    fields = {
        "day": day.isoformat(),
        "tz": tz,
        "version": __version__,
        "k": k,
        "remainder": remainder,
        "input_sha256": input_hash(cols),
        "registry_sha256": registry_hash(registry),
        "points": len(points.rows),
        "blocks_used": len(cols.used),
        "blocks_unusable": len(cols.problems),
        "blocks_unregistered": cols.unregistered,
        "isps": allocation.n,
    }
    files = {
        "allocation.csv": allocation_csv(allocation),
        "published.csv": allocation_csv(published),
        "completeness.csv": completeness_csv(counts),
        "run.json": run_json(fields),
    }
    return Result(files, allocation, published, tuple(counts), tuple(gaps), tuple(cols.problems))


def input_hash(cols: Columns) -> str:
    """SHA-256 over the SHA-256 of every block used, in (gateway, ap, seq) order."""
    digest = hashlib.sha256()
    for _, _, _, sha in sorted(set(cols.used)):
        digest.update(sha)
    return digest.hexdigest()


def registry_hash(rows: Sequence[RegistryRow]) -> str:
    """SHA-256 of the registry in its canonical CSV form (sorted by ap and valid_from)."""
    ordered = sorted(rows, key=lambda r: (r.ap, r.valid_from))
    return hashlib.sha256(registry_csv(ordered).encode()).hexdigest()


def completeness(
    points: Points, cols: Columns, substituted: np.ndarray
) -> tuple[list[AreaCounts], list[Gap]]:
    """Per grid area what came and what did not; the gaps to ask for.

    A point without a block is *opted out* when its connection's other points did send theirs
    that day (the gateway released, but not this point: the agent sends nothing for an
    opted-out point); otherwise it is *missing* (or *rejected*, when a block came but failed).
    """
    by_connection: dict[str, list[int]] = {}
    for i, row in enumerate(points.rows):
        by_connection.setdefault(row.connection, []).append(i)
    received = cols.received.tolist()
    rows: list[AreaCounts] = []
    gaps: list[Gap] = []
    status: list[str] = []
    for i, row in enumerate(points.rows):
        if received[i]:
            status.append("received")
        elif cols.rejected[i]:
            status.append("rejected")
        elif any(received[j] for j in by_connection[row.connection] if j != i):
            status.append("opted_out")
        else:
            status.append("missing")
        if status[-1] in ("missing", "rejected"):
            gw = cols.gw[i] or next((cols.gw[j] for j in by_connection[row.connection]
                                     if cols.gw[j]), None)  # fmt: skip
            before, after = cols.seq_before[i], cols.seq_after[i]
            first = before + 1 if before is not None else None
            last = after - 1 if after is not None else first
            gaps.append(Gap(row.ap, status[-1], gw, first, last))
    any_sub = [bool(x) for x in np.asarray(substituted.any(axis=1))]
    area_of: list[int] = points.area.tolist()
    for a, area in enumerate(points.areas):
        members = [i for i, x in enumerate(area_of) if x == a]
        rows.append(AreaCounts(
            grid_area=area,
            points_expected=len(members),
            blocks_received=sum(status[i] == "received" for i in members),
            missing=sum(status[i] == "missing" for i in members),
            opted_out=sum(status[i] == "opted_out" for i in members),
            substituted=sum(any_sub[i] for i in members),
            rejected=sum(status[i] == "rejected" for i in members),
        ))  # fmt: skip
    return rows, gaps
