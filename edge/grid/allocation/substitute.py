"""Substitution of the values that are missing or failed validation (SPEC §11).

Strategy: first every unusable interval gets the profile estimate — the mean measured volume
of the same grid area and role in that ISP, per direction — in one array operation; a point
without any block (not received, opted out, rejected) keeps exactly that. Then, where the
point's own readings bound a run of unusable intervals, the known energy of the run (reading
after − reading before) replaces the estimate, spread over the run by the shape of the grid
area's measured points, in whole Wh with the largest-remainder rule, so the run sums exactly
to what the meter counted. A bound that is implausible (negative, or beyond the capacity of
the run) is not used. Only rows with something to substitute are walked in Python.
"""

from __future__ import annotations

import numpy as np

from edge.grid.allocation.model import Array, Columns, Points


def group_sum(values: Array, groups: Array, size: int, dtype: type | None = None) -> Array:
    """Row sums of `values` (P, n) per group id (P,) into (size, n); empty groups are 0.

    `dtype`: the sums' type (e.g. int64 sums of a bool array, without an int64 copy of it).
    """
    out = np.zeros((size, values.shape[1]), dtype=dtype or values.dtype)
    if not len(groups):
        return out
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    out[ordered[starts]] = np.add.reduceat(values[order], starts, axis=0, dtype=out.dtype)
    return out


def group_mean(sums: Array, counts: Array) -> Array:
    """Per group and interval: sums / counts of the usable volumes (0 where none is usable)."""
    mean: Array = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return mean


def apportion(total: int, weights: Array) -> Array:
    """`total` Wh over len(weights) intervals in proportion to the weights, summing exactly."""
    w = np.clip(weights, 0.0, None)
    if not w.sum() > 0:
        w = np.ones(len(weights))
    exact = total * w / w.sum()
    whole = np.floor(exact).astype(np.int64)
    left = int(total - whole.sum())
    order = np.argsort(-(exact - whole), kind="stable")  # ties: the earlier interval first
    whole[order[: max(0, min(left, len(whole)))]] += 1
    result: Array = whole
    return result


def _runs(bad: Array) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a 1-d bool array."""
    edges = np.flatnonzero(np.diff(np.r_[0, bad.astype(np.int8), 0]))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def substitute(points: Points, cols: Columns) -> tuple[Array, Array, Array]:
    """(import Wh, export Wh, substituted) per point and interval; int64, int64, bool."""
    areas = len(points.areas)
    groups = points.area * 2 + points.secondary  # (grid area, role): area a is 2a and 2a + 1
    counts = group_sum(cols.ok, groups, 2 * areas, np.int64)
    area_counts = counts[0::2] + counts[1::2]
    volumes: list[Array] = []
    for readings in (cols.imp, cols.exp):
        measured = np.diff(readings, axis=1)
        # sums of whole Wh far below 2^53: exact in float64, so the per-area sums can be added
        # up from the per-(area, role) ones without changing a bit
        # in place (at 100 000 points each such array is ~75 MB): an unusable volume is never
        # read again, so it becomes 0 for the sums and then its substitute
        unusable = ~cols.ok
        np.copyto(measured, 0.0, where=unusable)
        sums = group_sum(measured, groups, 2 * areas)
        shape = group_mean(sums[0::2] + sums[1::2], area_counts)
        profile = np.rint(group_mean(sums, counts))
        filled = measured
        np.copyto(filled, profile[groups], where=unusable)
        for row in np.flatnonzero(cols.received & ~cols.ok.all(axis=1)):
            limit = int(points.limit_wh[row])
            for a, b in _runs(~cols.ok[row]):
                left, right = readings[row, a], readings[row, b]
                if np.isnan(left) or np.isnan(right):
                    continue
                energy = int(right - left)
                if 0 <= energy < limit * (b - a):
                    filled[row, a:b] = apportion(energy, shape[points.area[row], a:b])
        volumes.append(filled.astype(np.int64))
    return volumes[0], volumes[1], ~cols.ok
