"""The connection: EAN, phases, voltage and fuse, and the capacity that follows from them.

Strategy: capacity comes from SPEC §1's seed table (kVA by fuse, the Flemish list) where the
table has the fuse; every other standard Dutch or Belgian fuse size (1 × 35 A, 3 × 16 A, 3 × 35 A
…) is computed as U·I (1 phase) or √3·U·I (3 phases, U line-to-line) in Decimal and rounded to
0.1 kVA (half up), as the table is written. Either way it is stored as exact integer VA so that
the R2 check (a quarter-hour volume ≥ 120 % of what the connection can carry) is integer
arithmetic like every register, and the configuration says which of the two it used. A fuse that
is no standard size is a configuration error, never an estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final, Literal

from edge.config.ean import validate_ean
from edge.config.table import REQUIRED, Section, fail

# SPEC §1: (phases, volts) → fuse A → VA.
FUSE_TABLE: Mapping[tuple[int, int], Mapping[int, int]] = {
    (1, 230): {16: 3700, 20: 4600, 25: 5700, 32: 7400, 40: 9200, 50: 11500, 63: 14500},
    (3, 230): {
        20: 8000, 25: 10000, 32: 12700, 40: 15900, 50: 19900, 63: 25100, 80: 31900,
        100: 39800,
    },
    (3, 400): {
        20: 13900, 25: 17300, 32: 22200, 40: 27700, 50: 34600, 63: 43600, 80: 55400,
        100: 69200,
    },
}  # fmt: skip


# The standard fuse sizes of Dutch and Belgian connections (A) that the table may lack: NL
# 1 × 25/35/40 A and 3 × 25 … 80 A, BE 1 phase 16 … 63 A and 3 phases 16 … 100 A.
STANDARD_FUSES: Final[Mapping[int, frozenset[int]]] = {
    1: frozenset({16, 20, 25, 32, 35, 40, 50, 63}),
    3: frozenset({16, 20, 25, 32, 35, 40, 50, 63, 80, 100}),
}

CapacitySource = Literal["table", "computed"]


class Band(StrEnum):
    """Capacity band of the connection (SPEC §1)."""

    X1 = "X1"
    X2 = "X2"
    X3 = "X3"
    X4 = "X4"
    X5 = "X5"
    X6 = "X6"
    X7 = "X7"


# Upper bound (inclusive, VA) of each band; X7 is everything above 28 kVA.
_BAND_LIMITS = ((3000, Band.X1), (6000, Band.X2), (10000, Band.X3), (15000, Band.X4),
                (21000, Band.X5), (28000, Band.X6))  # fmt: skip


def band_of(capacity_va: int) -> Band:
    """The band X1–X7 for a capacity in VA."""
    for limit, band in _BAND_LIMITS:
        if capacity_va <= limit:
            return band
    return Band.X7


def capacity_va(phases: int, voltage: int, fuse_a: int) -> int | None:
    """The table's capacity in VA, or None if the combination is not in SPEC §1's table."""
    return FUSE_TABLE.get((phases, voltage), {}).get(fuse_a)


def computed_va(phases: int, voltage: int, fuse_a: int) -> int:
    """U·I (1 phase) or √3·U·I (3 phases), exact in Decimal, rounded half up to 100 VA."""
    va = Decimal(voltage) * Decimal(fuse_a)
    if phases == 3:
        va *= Decimal(3).sqrt()  # 28 digits: no .x5 boundary is that close to √3·U·I
    return int((va / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * 100


def connection_va(phases: int, voltage: int, fuse_a: int) -> tuple[int, CapacitySource] | None:
    """The capacity in VA and where it came from; None for a fuse that is no standard size."""
    va = capacity_va(phases, voltage, fuse_a)
    if va is not None:
        return va, "table"
    if fuse_a in STANDARD_FUSES.get(phases, frozenset()):
        return computed_va(phases, voltage, fuse_a), "computed"
    return None


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """`[connection]`: the grid connection and its capacity (all derived values exact ints).

    `quarter_capacity_wh` is the energy one quarter-hour can carry (kVA × 0.25 h, power factor 1);
    `r2_limit_wh` is 120 % of it rounded up: rule R2 flags a volume ≥ `r2_limit_wh`.
    """

    ean: str
    phases: int
    voltage: int
    fuse_a: int
    check_ean: bool
    capacity_va: int
    band: Band
    quarter_capacity_wh: int
    r2_limit_wh: int
    capacity_source: CapacitySource = "table"

    @property
    def capacity_kva(self) -> str:
        """The capacity as the table writes it, e.g. "17.3"."""
        return f"{self.capacity_va // 1000}.{self.capacity_va % 1000 // 100}"

    @property
    def capacity_basis(self) -> str:
        """How the capacity was found, for `check-config`."""
        if self.capacity_source == "table":
            return "from the fuse table"
        return "computed as U·I" if self.phases == 1 else "computed as √3·U·I"

    def volume_exceeds(self, volume_wh: int) -> bool:
        """Rule R2: True if a quarter-hour volume is at or above 120 % of the capacity."""
        return volume_wh >= self.r2_limit_wh


CONNECTION_KEYS = ("ean", "phases", "voltage", "fuse_a", "check_ean")


def parse_connection(table: Mapping[str, object]) -> ConnectionConfig:
    """Validate `[connection]` and derive its capacity; errors name `connection.<key>`."""
    section = Section("connection", table, CONNECTION_KEYS)
    check = section.boolean("check_ean", True)
    ean = validate_ean(
        section.raw("ean", example='"871687120000000004"'), section.key("ean"), check
    )
    phases = section.integer("phases", REQUIRED, 1, 3)
    if phases not in (1, 3):
        fail(section.key("phases"), f"{phases} phases is not a connection; use 1 or 3")
    voltage = section.integer("voltage", 230 if phases == 1 else 400, 0, 100_000)
    _check_voltage(phases, voltage)
    fuse = section.integer("fuse_a", REQUIRED, 1, 10_000)
    found = connection_va(phases, voltage, fuse)
    if found is None:
        sizes = sorted(STANDARD_FUSES[phases] | set(FUSE_TABLE[(phases, voltage)]))
        fail(
            section.key("fuse_a"),
            f"{fuse} A is no standard fuse size for {phases} phase{'s' if phases > 1 else ''} "
            f"at {voltage} V; use one of {', '.join(str(f) for f in sizes)}",
        )
    va, source = found
    quarter = va // 4
    return ConnectionConfig(
        ean=ean,
        phases=phases,
        voltage=voltage,
        fuse_a=fuse,
        check_ean=check,
        capacity_va=va,
        band=band_of(va),
        quarter_capacity_wh=quarter,
        r2_limit_wh=-(-quarter * 6 // 5),
        capacity_source=source,
    )


def _check_voltage(phases: int, voltage: int) -> None:
    if phases == 1 and voltage != 230:
        fail("connection.voltage", f"{voltage} V: a single-phase connection is 230 V; set 230")
    if phases == 3 and voltage not in (230, 400):
        fail("connection.voltage", f"{voltage} V; use 400 (line-to-line) or 230 for 3 phases")
