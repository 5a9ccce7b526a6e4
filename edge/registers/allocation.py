"""Allocation of a connection's quarter-hours to its primary and secondary points (SPEC §4).

Per interval, with net = import - export (signed Wh): the primary allocation point's net is the
main meter's net minus the secondary meters' nets; offtake = max(0, net), injection =
max(0, -net). Computed only where every meter involved has a volume (measured or interpolated
boundaries, same series); otherwise the primary point's interval is missing. R7 flags an interval
in which the secondaries drew more energy than can have reached them through the main meter
(or from production behind it), beyond the meters' accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from edge.registers.model import Boundary

ACCURACY: Final = (1, 100)  # class B meters: 1 %; plus 1 Wh of resolution per meter


@dataclass(frozen=True, slots=True)
class Volume:
    """Energy through one meter in one interval (Wh)."""

    imported: int
    exported: int

    @property
    def net(self) -> int:
        return self.imported - self.exported


@dataclass(frozen=True, slots=True)
class Allocation:
    """Offtake and injection of one allocation point in one interval (Wh); None: missing."""

    offtake: int | None
    injection: int | None


def volume(before: Boundary, after: Boundary) -> Volume | None:
    """The volume between two boundaries of one meter, None where it cannot be known."""
    if before.registers is None or after.registers is None or before.series != after.series:
        return None
    b, a = before.registers, after.registers
    return Volume(a[0] + a[1] - b[0] - b[1], a[2] + a[3] - b[2] - b[3])


def split(net: int | None) -> Allocation:
    if net is None:
        return Allocation(None, None)
    return Allocation(max(0, net), max(0, -net))


def allocate_primary(main: Volume | None, secondaries: Sequence[Volume | None]) -> Allocation:
    """The primary point's offtake/injection: main minus the secondaries' nets."""
    if main is None or any(v is None for v in secondaries):
        return Allocation(None, None)
    return split(main.net - sum(v.net for v in secondaries if v is not None))


def secondaries_exceed_primary(
    main: Volume, secondaries: Sequence[Volume], *, own_generation: bool = False
) -> bool:
    """R7: the secondaries drew more energy than can have reached them through the main meter.

    Per direction: what the secondaries imported came in through the main meter's import or
    was produced behind it — by a secondary (its export) or by the house's own generation,
    which the main meter sees only as its export. So the rule fires only where there are
    secondaries and no own generation can be behind the meter: not when `own_generation` is
    known (the main meter's export register shows more than the secondaries ever exported) and
    not in a quarter in which the main meter exported more than the secondaries did. What the
    secondaries exported may always have been consumed in the house: that direction can never
    be impossible. The margin is the meters' accuracy (class B: 1 % of every flow compared)
    plus 1 Wh of resolution per volume.
    """
    if not secondaries or own_generation:
        return False
    produced = sum(v.exported for v in secondaries)
    if main.exported > produced + _margin(main.exported + produced, 1 + len(secondaries)):
        return False  # unmetered production behind the main meter: its size is unknown
    drawn = sum(v.imported for v in secondaries)
    available = main.imported + produced
    return drawn > available + _margin(drawn + available, 1 + 2 * len(secondaries))


def _margin(flows: int, volumes: int) -> int:
    return flows * ACCURACY[0] // ACCURACY[1] + volumes


GENERATION_MARGIN_WH: Final = 1_000  # registers this far apart are no rounding: generation


def has_own_generation(main_export_wh: int, secondaries_export_wh: Sequence[int]) -> bool:
    """The main meter has exported more than every secondary together: the house produces
    energy that no secondary meters (its own PV), so R7 cannot judge its secondaries' imports.
    Registers are totals since each meter was installed, so this errs towards "generation"
    (R7 silent) when a secondary is younger than the main meter; a house whose metered PV
    out-produces its unmetered generation is caught per quarter instead (its main meter's
    export beyond the secondaries')."""
    return main_export_wh > sum(secondaries_export_wh) + GENERATION_MARGIN_WH
