"""The quarter-hour engine (pure): boundary readings, status and flags, validation, allocation."""

from edge.registers.allocation import (
    Allocation,
    Volume,
    allocate_primary,
    has_own_generation,
    secondaries_exceed_primary,
    split,
    volume,
)
from edge.registers.engine import Closed, MeterEngine
from edge.registers.model import (
    INTERPOLATED,
    MEASURED,
    MISSING,
    Boundary,
    Interval,
    Registers4,
    Status,
)
from edge.registers.timegrid import STEP, day_range, intervals_in_day, iso_utc, local_day

__all__ = [
    "INTERPOLATED",
    "MEASURED",
    "MISSING",
    "STEP",
    "Allocation",
    "Boundary",
    "Closed",
    "Interval",
    "MeterEngine",
    "Registers4",
    "Status",
    "Volume",
    "allocate_primary",
    "day_range",
    "has_own_generation",
    "intervals_in_day",
    "iso_utc",
    "local_day",
    "secondaries_exceed_primary",
    "split",
    "volume",
]
