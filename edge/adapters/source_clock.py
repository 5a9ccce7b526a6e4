"""The clock a source reads and waits on, injectable so that backoff and silence are testable.

Strategy: a source never calls `time` directly. It asks its `Clock` for monotonic seconds and
waits through it on its stop event, so a stop interrupts any wait at once and a test clock can
advance time instantly instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic time and an interruptible wait."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait up to `seconds`; True as soon as `stop` is set (then the caller ends)."""
        ...


class SystemClock:
    """The real clock: `time.monotonic` and `Event.wait`."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()
