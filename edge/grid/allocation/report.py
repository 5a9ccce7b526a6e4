"""The run's files as text: allocation.csv, published.csv, completeness.csv and run.json.

Everything is sorted and nothing depends on the clock or the machine, so the same inputs give
byte-identical files (the run can be re-run and diffed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from edge.blocks.days import STEP_SECONDS, utc_text
from edge.grid.allocation.model import DIRECTIONS, Allocation

ALLOCATION_COLUMNS = ("isp_utc", "grid_area", "brp", "supplier", "direction", "wh", "points",
                      "substituted")  # fmt: skip
COMPLETENESS_COLUMNS = ("grid_area", "points_expected", "blocks_received", "missing",
                        "opted_out", "substituted", "rejected")  # fmt: skip


@dataclass(frozen=True, slots=True)
class AreaCounts:
    """completeness.csv's row of one grid area."""

    grid_area: str
    points_expected: int
    blocks_received: int
    missing: int
    opted_out: int
    substituted: int
    rejected: int


def allocation_csv(allocation: Allocation) -> str:
    """One row per ISP, cell and direction (a row even at 0 Wh)."""
    lines = [",".join(ALLOCATION_COLUMNS)]
    off, inj, sub = (a.tolist() for a in (allocation.offtake, allocation.injection,
                                          allocation.substituted))  # fmt: skip
    points = allocation.points.tolist()
    for k in range(allocation.n):
        isp = utc_text(allocation.start + timedelta(seconds=STEP_SECONDS * k))
        for c, cell in enumerate(allocation.cells):
            head = f"{isp},{cell.grid_area},{cell.brp},{cell.supplier}"
            for direction, values in zip(DIRECTIONS, (off, inj), strict=True):
                lines.append(f"{head},{direction},{values[c][k]},{points[c]},{sub[c][k]}")
    return "\n".join(lines) + "\n"


def completeness_csv(areas: Sequence[AreaCounts]) -> str:
    """One row per grid area."""
    lines = [",".join(COMPLETENESS_COLUMNS)]
    for a in areas:
        lines.append(f"{a.grid_area},{a.points_expected},{a.blocks_received},{a.missing},"
                     f"{a.opted_out},{a.substituted},{a.rejected}")  # fmt: skip
    return "\n".join(lines) + "\n"


def run_json(fields: Mapping[str, Any]) -> str:
    """run.json: sorted keys, two-space indent, a final newline."""
    return json.dumps(dict(fields), sort_keys=True, indent=2) + "\n"
