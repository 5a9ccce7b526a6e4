"""The allocation run's values: the points of a day, the decoded columns, and the result.

Strategy: the run works on columns (numpy arrays, one row per allocation point and one column
per boundary or interval), so DSO validation, substitution and the group-by are array
operations; only what is rare (a block with flags, a gap to substitute) is walked in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np

from edge.grid.registry import RegistryRow

Array = np.ndarray
OFFTAKE, INJECTION = "offtake", "injection"
DIRECTIONS = (OFFTAKE, INJECTION)
# flags that make an interval's value unusable (Meetcode 5.3.9: energy ≥ 0, within capacity,
# time sync); a power failure is information only: the registers go on counting
UNUSABLE_FLAGS = frozenset({"capacity_exceeded", "register_decreased", "meter_changed",
                            "clock_skew"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Points:
    """The allocation points the registry assigns on the day, in registry (ap) order."""

    day: date
    rows: tuple[RegistryRow, ...]
    index: dict[str, int]  # ap -> row
    limit_wh: Array  # (P,) int64: the smallest volume that is ≥ 120 % of kVA × 0.25 h
    area: Array  # (P,) int: index into `areas`
    secondary: Array  # (P,) bool
    primary_of: Array  # (P,) int: the row of the connection's primary, -1 for none/itself
    areas: tuple[str, ...]


@dataclass(slots=True)
class Columns:
    """Decoded readings of the day per point: import and export (tariffs summed), Wh."""

    imp: Array  # (P, n+1) float64, nan where unknown
    exp: Array  # (P, n+1) float64
    ok: Array  # (P, n) bool: the interval's measured value passed validation
    received: Array  # (P,) bool: a usable block of the day
    gw: list[str | None]  # the gateway seen for the point (this day or a neighbour day)
    seq_before: list[int | None]  # seq of the point's block of the day before
    seq_after: list[int | None]  # seq of the point's block of the day after
    rejected: Array  # (P,) bool: a block of the day came but was not usable
    used: list[tuple[str, str, int, bytes]] = field(default_factory=list)  # (gw, ap, seq, sha)
    unregistered: int = 0
    problems: list[str] = field(default_factory=list)
    # the neighbour days' blocks of the points without a block of the day (for `recent`)
    edge_blocks: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Cell:
    """One (grid area, BRP, supplier) combination with at least one point."""

    grid_area: str
    brp: str
    supplier: str


@dataclass(frozen=True, slots=True)
class Allocation:
    """The run's result in columns: per cell and ISP, offtake and injection Wh."""

    day: date
    start: datetime
    n: int
    cells: tuple[Cell, ...]
    points: Array  # (C,) int
    offtake: Array  # (C, n) int64
    injection: Array  # (C, n) int64
    substituted: Array  # (C, n) int: points of the cell with a substitute in that ISP
