"""Substitution of the values that are missing or failed validation (SPEC §11).

Strategy: first every unusable interval gets the profile estimate — the mean measured volume
of the same grid area and role in that ISP, per direction — in one array operation; a point
without any block (not received, opted out, rejected) keeps exactly that. Then, where the
point's own readings bound a run of unusable intervals, the known energy of the run (reading
after − reading before) replaces the estimate, spread over the run by the shape of the grid
area's measured points, in whole Wh with the largest-remainder rule, so the run sums exactly
to what the meter counted. A bound that is implausible (negative, or beyond the capacity of
the run) is not used. Only rows with something to substitute are walked in Python.

A point without a block of the day whose own recent volumes are known (`recent`: its neighbour
day's block or its last block in the store) gets a better estimate than the area's mean, which
would give a PV point an EV charger's curve where the charger is the area's only measured
secondary: the mean of the measured points of its grid area and role that behave like it —
net injectors or net consumers over the day (the point judged by its recent day, the measured
points by their own day) — scaled to the point's own level (its recent day's energy per
direction), in whole Wh (largest remainder). Where no such point is measured, its own recent
day's shape carries that energy; where nothing is known of the point, the area's mean stays.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edge.grid.allocation.model import Array, Columns, Points

Recent = tuple[Array, Array]  # (import, export) Wh per interval of the point's recent day


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


def _injectors(cols: Columns) -> Array:
    """Per point: 1 where its measured export of the day exceeds its import, else 0."""
    totals = []
    for readings in (cols.imp, cols.exp):
        totals.append(np.where(cols.ok, np.diff(readings, axis=1), 0.0).sum(axis=1))
    out: Array = (totals[1] > totals[0]).astype(np.int64)
    return out


def _scaled(weights: Array, own: Array, n: int) -> Array:
    """The point's recent day's energy over the day's n intervals by `weights` (its own
    recent shape, resampled to n intervals, where the weights are all 0)."""
    total = int(own.sum())  # whole Wh: the day's energy, whatever its length (DST)
    if not weights.sum() > 0:
        weights = own[(np.arange(n) * len(own)) // n]
    return apportion(total, weights)


def substitute(
    points: Points, cols: Columns, recent: Mapping[int, Recent] | None = None
) -> tuple[Array, Array, Array]:
    """(import Wh, export Wh, substituted) per point and interval; int64, int64, bool."""
    areas = len(points.areas)
    groups = points.area * 2 + points.secondary  # (grid area, role): area a is 2a and 2a + 1
    counts = group_sum(cols.ok, groups, 2 * areas, np.int64)
    area_counts = counts[0::2] + counts[1::2]
    recent = {i: r for i, r in (recent or {}).items() if not cols.received[i]}
    if recent:  # (grid area, role, injector or not) of the measured points and of `recent`'s
        behaves: Array = groups * 2 + _injectors(cols)
        for i, (imp, exp) in recent.items():
            behaves[i] = int(groups[i]) * 2 + int(exp.sum() > imp.sum())
        like_counts = group_sum(cols.ok, behaves, 4 * areas, np.int64)
    volumes: list[Array] = []
    for direction, readings in enumerate((cols.imp, cols.exp)):
        measured = np.diff(readings, axis=1)
        # sums of whole Wh far below 2^53: exact in float64, so the per-area sums can be added
        # up from the per-(area, role) ones without changing a bit
        # in place (at 100 000 points each such array is ~75 MB): an unusable volume is never
        # read again, so it becomes 0 for the sums and then its substitute
        unusable = ~cols.ok
        np.copyto(measured, 0.0, where=unusable)
        sums = group_sum(measured, groups, 2 * areas)
        if recent:  # the measured points' means per behaviour, before `measured` is filled
            like = group_mean(group_sum(measured, behaves, 4 * areas), like_counts)
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
        if recent:
            for i, own in recent.items():
                filled[i] = _scaled(like[behaves[i]], own[direction], filled.shape[1])
        volumes.append(filled.astype(np.int64))
    return volumes[0], volumes[1], ~cols.ok
