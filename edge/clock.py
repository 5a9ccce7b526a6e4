"""Is the gateway's clock believable? (SPEC §4 R4 and §5 need a synchronised clock.)

A Raspberry Pi has no real-time clock: until NTP has set it, the system clock starts where the
last shutdown left it (fake-hwclock) or in 1970. A clock before this release's build date, or
before the newest time the agent itself has stored, is certainly wrong: the agent then judges
no meter clock against it (no R4 flag), settles nothing as missing by it, and releases nothing
on it, and the status says "clock not synchronised". Pure: times are arguments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

# The day this release was built: no correct clock is ever before it (update when releasing).
BUILD_DATE: Final = "2026-12-01"
BUILD_EPOCH: Final = int(datetime.fromisoformat(BUILD_DATE).replace(tzinfo=UTC).timestamp())
# Stored boundaries are meter time, which may run a little ahead of a good clock (R4 flags
# 10 s): only a clock more than a quarter-hour behind them is surely wrong.
SLACK_S: Final = 900


def clock_trusted(now: float, stored_until: int | None) -> bool:
    """False when `now` is before the build date or well before the newest stored time."""
    return now >= BUILD_EPOCH and now + SLACK_S >= (stored_until or 0)
