"""Each meter's availability for the home: "online" while its line delivers telegrams.

Strategy: the agent's sources already judge their line: a serial source is `connected` while
its port is open and ends its session (state `backoff`) once the line has been lost or silent
for `SILENCE_INTERVALS` telegram intervals of its dialect. A meter is available while its
source is `connected` AND its last telegram is no older than that same silence threshold (a
reopened port is not yet a meter that answers). An M-Bus point is read through its carrier's
line and shares its availability. The check runs on the agent's tick, off the telegram path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Final, Protocol

from edge.adapters.source_lines import PRESETS
from edge.config import Config
from edge.config.points import MBusSource

# the serial source's default `silence_intervals`: silent after three missed telegrams
SILENCE_INTERVALS: Final = 3.0


class LineStatus(Protocol):
    """What is read of a source's status (`edge.adapters.source_base.SourceStatus`)."""

    @property
    def state(self) -> str: ...

    @property
    def last_received_monotonic(self) -> float | None: ...


def silence_s(dialect: str) -> float:
    """How long a meter of `dialect` may be quiet before it counts as silent."""
    return SILENCE_INTERVALS * PRESETS.get(dialect, PRESETS["auto"]).interval_s


def reading(status: LineStatus | None, silence: float, now: float) -> bool:
    """True while the line is up and its last telegram is at most `silence` s old (`now` and
    the status on the same monotonic clock)."""
    if status is None or status.state != "connected":
        return False
    last = status.last_received_monotonic
    return last is not None and 0 <= now - last <= silence


class MeterAvailability:
    """Tells which meters changed between available and not since the last look."""

    def __init__(
        self,
        config: Config,
        statuses: Callable[[], Mapping[str, LineStatus]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.statuses = statuses
        self.clock = clock
        # point -> (the source whose line it is read through, that line's silence threshold)
        self.lines: dict[str, tuple[str, float]] = {}
        for point in config.points:
            line = point.source.ean if isinstance(point.source, MBusSource) else point.ean
            self.lines[point.ean] = (line, silence_s(str(config.point(line).dialect)))
        self.known: dict[str, bool] = {}

    def changes(self) -> dict[str, bool]:
        """The points whose availability differs from the last call's (all of them at first)."""
        statuses, now = self.statuses(), self.clock()
        out = {}
        for ap, (line, silence) in self.lines.items():
            available = reading(statuses.get(line), silence, now)
            if self.known.get(ap) is not available:
                self.known[ap] = available
                out[ap] = available
        return out
