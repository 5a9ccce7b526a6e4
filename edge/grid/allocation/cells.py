"""Primary = main − Σ secondaries, offtake and injection, and the sums per cell and ISP."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from edge.grid.allocation.model import Allocation, Array, Cell, Points
from edge.grid.allocation.substitute import group_sum


def point_nets(points: Points, imp: Array, exp: Array, substituted: Array) -> tuple[Array, Array]:
    """Net Wh (import − export) per allocation point and ISP, and where it is substituted.

    The primary point's net is its main meter's minus its connection's secondaries'; it is
    substituted wherever the main meter or any of those secondaries is. `imp` becomes the net
    (in place: at 100 000 points each of these arrays is ~75 MB).
    """
    net = imp
    net -= exp
    substituted = substituted.copy()
    secondaries = np.flatnonzero(points.primary_of >= 0)
    primaries = points.primary_of[secondaries]
    np.subtract.at(net, primaries, net[secondaries])
    np.logical_or.at(substituted, primaries, substituted[secondaries])
    return net, substituted


def allocate_cells(points: Points, start: datetime, net: Array, substituted: Array) -> Allocation:
    """Sum per (grid area, BRP, supplier) and ISP, both directions."""
    keys = [(r.grid_area, r.brp, r.supplier) for r in points.rows]  # tuples: cheap per point
    unique = sorted(set(keys))
    index = {key: i for i, key in enumerate(unique)}
    ids = np.fromiter((index[key] for key in keys), dtype=np.int64, count=len(keys))
    cells = tuple(Cell(*key) for key in unique)
    size = len(cells)
    return Allocation(
        day=points.day,
        start=start,
        n=net.shape[1],
        cells=cells,
        points=np.bincount(ids, minlength=size).astype(np.int64),
        offtake=group_sum(np.maximum(net, 0), ids, size),
        injection=group_sum(np.maximum(-net, 0), ids, size),
        substituted=group_sum(substituted, ids, size, np.int64),
    )
