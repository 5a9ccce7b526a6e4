"""The allocation points of a day, from the registry: limits, grid areas and connections."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date

import numpy as np

from edge.grid.allocation.model import Points
from edge.grid.registry import Registry, RegistryRow

WH_PER_KVA_LIMIT = 300  # 120 % of kVA × 0.25 h in Wh (power factor 1): kVA × 1000 × 0.25 × 1.2


def day_points(rows: Iterable[RegistryRow], day: date) -> Points:
    """Every point assigned on local `day`, with its capacity limit and its primary."""
    valid = Registry(rows).rows_on(day)
    index = {row.ap: i for i, row in enumerate(valid)}
    areas = tuple(sorted({row.grid_area for row in valid}))
    area_index = {a: i for i, a in enumerate(areas)}
    primaries = {row.connection: i for i, row in enumerate(valid) if row.role == "primary"}
    # a volume v (integer Wh) is < kVA × 300 exactly when v < ceil(kVA × 300)
    limit = [math.ceil(row.capacity_kva * WH_PER_KVA_LIMIT) for row in valid]
    return Points(
        day=day,
        rows=tuple(valid),
        index=index,
        limit_wh=np.array(limit, dtype=np.int64),
        area=np.array([area_index[r.grid_area] for r in valid], dtype=np.int64),
        secondary=np.array([r.role == "secondary" for r in valid], dtype=bool),
        primary_of=np.array(
            [primaries.get(r.connection, -1) if r.role == "secondary" else -1 for r in valid],
            dtype=np.int64,
        ),
        areas=areas,
    )
