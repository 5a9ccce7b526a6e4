"""Values of the quarter-hour engine: boundary readings, closed intervals, flags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Status = Literal["measured", "interpolated", "missing"]

MEASURED: Final = "measured"
INTERPOLATED: Final = "interpolated"
MISSING: Final = "missing"

# Interval flags (SPEC §4), in this canonical order.
CAPACITY_EXCEEDED: Final = "capacity_exceeded"
REGISTER_DECREASED: Final = "register_decreased"
METER_CHANGED: Final = "meter_changed"
CLOCK_SKEW: Final = "clock_skew"
POWER_FAILURE: Final = "power_failure"
SECONDARY_EXCEEDS_PRIMARY: Final = "secondary_exceeds_primary"
FLAG_ORDER: Final = (
    CAPACITY_EXCEEDED,
    REGISTER_DECREASED,
    METER_CHANGED,
    CLOCK_SKEW,
    POWER_FAILURE,
    SECONDARY_EXCEEDS_PRIMARY,
)

Registers4 = tuple[int, int, int, int]  # import t1, import t2, export t1, export t2 (Wh)
REGISTER_NAMES: Final = ("import_t1", "import_t2", "export_t1", "export_t2")


@dataclass(frozen=True, slots=True)
class Boundary:
    """The register readings at one quarter-hour boundary of one meter."""

    utc: int  # epoch seconds
    status: Status
    registers: Registers4 | None  # None when missing
    meter: str | None  # equipment identifier of the series
    series: int  # increases at every meter change (R5): no delta across series


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed quarter-hour: its status, flags and the highest import power seen in it."""

    start: int  # epoch seconds (UTC) of its first boundary
    status: Status
    flags: tuple[str, ...]
    max_power_w: int | None


def sort_flags(flags: set[str] | frozenset[str]) -> tuple[str, ...]:
    """Flags in canonical order (deterministic blocks)."""
    return tuple(flag for flag in FLAG_ORDER if flag in flags)


def combine_status(left: Status, right: Status) -> Status:
    """An interval is as good as its worse boundary."""
    if MISSING in (left, right):
        return MISSING
    if INTERPOLATED in (left, right):
        return INTERPOLATED
    return MEASURED
