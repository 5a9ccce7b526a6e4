"""The published form: cells below K allocation points merged so no customer stands out.

Strategy: the registry assigns points per day, so a cell's point count is the same in every
ISP and the merge is decided once per day, per grid area: a cell with ≥ K points stays; the
small cells of one BRP pool into (BRP, `*`); a pool still below K goes into the grid area's
(`*`, `*`) remainder. Only whole cells move, so the energy per (ISP, grid area, direction) is
conserved exactly. A remainder still below K is published (it is the grid area's own energy)
and named, so the recipient knows it is small.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from edge.grid.allocation.model import Allocation, Cell
from edge.grid.allocation.substitute import group_sum
from edge.grid.registry import MERGED


def merge_plan(
    cells: Sequence[Cell], points: Sequence[int], k: int
) -> tuple[list[Cell], list[str]]:
    """The published cell of each cell, and the grid areas whose remainder is below `k`."""
    target: list[Cell] = list(cells)
    pools: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (cell, count) in enumerate(zip(cells, points, strict=True)):
        if count < k:
            pools[(cell.grid_area, cell.brp)].append(i)
    remainder: dict[str, int] = defaultdict(int)
    for (area, brp), members in pools.items():
        total = sum(points[i] for i in members)
        merged = Cell(area, brp, MERGED) if total >= k else Cell(area, MERGED, MERGED)
        if total < k:
            remainder[area] += total
        for i in members:
            target[i] = merged
    return target, sorted(area for area, total in remainder.items() if total < k)


def publish(allocation: Allocation, k: int) -> tuple[Allocation, list[str]]:
    """The privacy-gated allocation and its small remainders (see the module's rule)."""
    target, remainder = merge_plan(allocation.cells, allocation.points.tolist(), k)
    cells = tuple(sorted(set(target), key=lambda c: (c.grid_area, c.brp, c.supplier)))
    index = {cell: i for i, cell in enumerate(cells)}
    ids = np.array([index[t] for t in target], dtype=np.int64)
    size = len(cells)
    published = Allocation(
        day=allocation.day,
        start=allocation.start,
        n=allocation.n,
        cells=cells,
        points=np.bincount(ids, weights=allocation.points, minlength=size).astype(np.int64),
        offtake=group_sum(allocation.offtake, ids, size),
        injection=group_sum(allocation.injection, ids, size),
        substituted=group_sum(allocation.substituted, ids, size),
    )
    return published, remainder
