"""Defaults of the grid tools, apart from their numpy-heavy cores.

`edge-agent --help` registers every command, and the agent's own install has no numpy (the
`grid` extra brings it): the command modules read their defaults here and import the fleet and
the allocation run only when one of them runs. The cores read the same names, so there is one
value, not a copy to keep in step.
"""

from __future__ import annotations

from datetime import date
from typing import Final

FLEET_FIRST_DAY: Final = date(2026, 3, 2)  # the fleet's first local day
FLEET_TZ: Final = "Europe/Amsterdam"
ALLOCATION_K: Final = 10  # a published cell has at least this many allocation points
ALLOCATION_TZ: Final = "Europe/Amsterdam"
