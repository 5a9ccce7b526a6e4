"""Allocation of a connection's quarter-hours to its primary and secondary points (SPEC §4).

Per interval, with net = import - export (signed Wh): the primary allocation point's net is the
main meter's net minus the secondary meters' nets; offtake = max(0, net), injection =
max(0, -net). Computed only where every meter involved has a volume (measured or interpolated
boundaries, same series); otherwise the primary point's interval is missing. R7 flags an interval
in which the secondaries account for more energy than can have passed the main meter, beyond
the meters' accuracy.
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


def secondaries_exceed_primary(main: Volume, secondaries: Sequence[Volume]) -> bool:
    """R7: the secondaries together took more net energy than passed the main meter.

    The main meter sees the house plus every secondary: main net = house net + sum of the
    secondaries' nets, and a house without its own generation has a net >= 0. So the
    secondaries' net sum may exceed the main meter's net only by the meters' inaccuracy
    (a PV secondary's export consumed in the house is fine: it lowers that sum).
    """
    sec_net = sum(v.net for v in secondaries)
    flows = [main.imported, main.exported]
    flows += [max(v.imported, v.exported) for v in secondaries]
    largest = max(flows)
    tolerance = largest * ACCURACY[0] // ACCURACY[1] + 1 + len(secondaries)
    return sec_net > main.net + tolerance
