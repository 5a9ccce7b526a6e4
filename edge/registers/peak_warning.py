"""Peak warning (pure): is the running quarter-hour heading for a new monthly peak?

Strategy: a small state machine per meter, fed every reading with its meter time. It projects
the quarter's average power as if the load of this moment continued to the quarter's end:

    projected = (energy so far + power now × seconds left) / 900 s

The energy so far comes from the meter's own running average `1-0:1.4.0` when it sends one
(W resolution, the meter's own quarter) and otherwise from the import registers since the
quarter's start (interpolated to the boundary from the readings around it; 1 Wh resolution,
coarse in the first minute). "Power now" is `1-0:1.7.0`, or the average so far without it.

The warning is raised when the projection exceeds the month's peak so far by the configured
margin, and it stays raised (no flapping while a kettle switches) until the quarter ends; then
it clears and the next quarter starts afresh. The month's peak is counted at least 2.5 kW, as
the tariff does: a new peak below the floor costs nothing, so it is worth no warning. The first
`min_elapsed_s` of a quarter only observe: a one-second spike is not a quarter's trend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from edge.registers.capacity import FLOOR_W
from edge.registers.timegrid import STEP

MIN_ELAPSED_S: Final = 60


@dataclass(frozen=True, slots=True)
class WarningState:
    """What the machine knows about the running quarter after the latest reading."""

    quarter_start: int  # UTC epoch seconds
    elapsed_s: int  # seconds of the quarter the energy so far covers
    average_w: int | None  # the quarter's average power so far
    projected_w: int | None  # the projected average of the whole quarter
    threshold_w: int  # the projection above which the warning is raised
    active: bool


class PeakWarning:
    """The warning state machine of one meter; time is always an argument."""

    def __init__(
        self, margin: float, *, floor_w: int = FLOOR_W, min_elapsed_s: int = MIN_ELAPSED_S
    ) -> None:
        if margin < 0:
            raise ValueError("the margin is a fraction >= 0")
        self.margin = margin
        self.floor_w = floor_w
        self.min_elapsed_s = min_elapsed_s
        self.state: WarningState | None = None
        self._last: tuple[int, int] | None = None  # the previous reading (t, import Wh)
        self._ref: tuple[int, int] | None = None  # (t, import Wh) the quarter's energy counts from
        # (start, W) of the quarter that ended last, when both its boundaries were referenced:
        # the month's peak can follow without waiting for the store (replays feed in batches)
        self.closed: tuple[int, int] | None = None

    def threshold_w(self, month_peak_w: int | None) -> int:
        """The projection above which the warning fires, for a month peak so far."""
        base = max(self.floor_w, month_peak_w or 0)
        return base + int(base * self.margin)

    def observe(
        self,
        t: int,
        import_wh: int,
        *,
        power_w: int | None = None,
        demand_w: int | None = None,
        month_peak_w: int | None = None,
    ) -> WarningState:
        """Take one reading at meter time `t`: total import register (Wh), power (1.7.0, W),
        the meter's running quarter average (1.4.0, W) and the month's peak so far (W)."""
        quarter = t - t % STEP
        state = self.state
        if state is None or quarter != state.quarter_start:
            ref = self._quarter_reference(quarter, t, import_wh)
            old = self._ref
            if (
                old is not None
                and state is not None
                and old[0] == state.quarter_start
                and ref[0] == quarter == state.quarter_start + STEP
                and ref[1] >= old[1]
            ):
                self.closed = (state.quarter_start, (ref[1] - old[1]) * (3600 // STEP))
            self._ref = ref
            active = False
        else:
            active = state.active
        self._last = (t, import_wh)
        elapsed, energy_ws = self._energy_so_far(quarter, t, import_wh, demand_w)
        average = energy_ws // elapsed if elapsed > 0 else None
        now_w = power_w if power_w is not None else average
        projected = None
        if now_w is not None:
            left = quarter + STEP - t
            # over the part of the quarter we know plus the rest (all 900 s once referenced
            # at the boundary; a meter first seen mid-quarter is judged on what it showed)
            projected = (energy_ws + now_w * left) // (elapsed + left)
        threshold = self.threshold_w(month_peak_w)
        if not active and projected is not None and elapsed >= self.min_elapsed_s:
            active = projected > threshold
        self.state = WarningState(quarter, elapsed, average, projected, threshold, active)
        return self.state

    def tick(self, now: int) -> WarningState | None:
        """Clear the warning once the quarter has ended without a reading in the next one."""
        state = self.state
        if state is not None and state.active and now >= state.quarter_start + STEP:
            self.state = WarningState(
                state.quarter_start, state.elapsed_s, state.average_w, state.projected_w,
                state.threshold_w, False,
            )  # fmt: skip
        return self.state

    @property
    def active(self) -> bool:
        """True while the running quarter is heading for a new peak."""
        return self.state is not None and self.state.active

    def _quarter_reference(self, quarter: int, t: int, import_wh: int) -> tuple[int, int]:
        last = self._last
        # the register at the boundary, interpolated from the readings around it when the
        # previous reading is recent (the same tolerance the tariff's own quarters have)
        if last is not None and last[0] < quarter and quarter - last[0] <= STEP and t > last[0]:
            t0, wh0 = last
            return quarter, wh0 + (import_wh - wh0) * (quarter - t0) // (t - t0)
        return t, import_wh

    def _energy_so_far(
        self, quarter: int, t: int, import_wh: int, demand_w: int | None
    ) -> tuple[int, int]:
        """(seconds covered, Ws) of the running quarter up to `t`."""
        if demand_w is not None:
            elapsed = t - quarter
            return elapsed, demand_w * elapsed
        ref = self._ref
        assert ref is not None
        return t - ref[0], max(0, import_wh - ref[1]) * 3600
