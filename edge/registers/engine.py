"""The quarter-hour engine of one meter: readings in, boundary readings and closed intervals out.

Strategy: a small state machine per meter. Almost every telegram falls inside the open interval
and costs a few comparisons (remember it as the latest reading, track the maximum power). Only a
telegram at or past the pending boundary does real work: it settles that boundary (and any the
meter skipped) as SPEC §4 says —

* measured: the first reading at or after the boundary is less than one telegram interval late;
* interpolated: otherwise, linearly (exact integers, floored) between the readings around it,
  each within the horizon (1 h) and of the same meter series;
* missing: no reading on one side within the horizon (`advance(now)` settles those when time
  passes without telegrams).

A new equipment identifier or registers restarting near zero start a new series (R5): nothing is
interpolated or subtracted across it. Flags are kept, never "fixed"; an interval whose registers
decreased (R1) has no trustworthy volume, so it is `missing` with its flag. A silence longer than
`GAP_KEEP_S` is one gap: its first boundary and the last `GAP_KEEP_S` before the next reading
are settled (missing), the boundaries between are skipped — an absent row reads as missing
everywhere (blocks, export), so a clock that jumps years costs a few thousand rows, not millions.

Persistence: `checkpoint()` is a snapshot (plain JSON-able data, shared with nothing) of all
that `feed`/`advance` depend on. The closures they return since the last checkpoint are implied
by the next one: store both in one transaction. If that commit fails, `restore()` the last
committed checkpoint (or build a new engine from it): the engine is then exactly as it was, and
feeding the same readings again returns the same closures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from edge.registers.model import (
    CAPACITY_EXCEEDED,
    CLOCK_SKEW,
    INTERPOLATED,
    MEASURED,
    METER_CHANGED,
    MISSING,
    POWER_FAILURE,
    REGISTER_DECREASED,
    Boundary,
    Interval,
    Registers4,
    Status,
    combine_status,
    sort_flags,
)
from edge.registers.timegrid import STEP, ceil_boundary

HORIZON_S: Final = 3600  # a boundary is missing without a reading on both sides within 1 h
SKEW_LIMIT_S: Final = 10  # R4: meter clock this far off the gateway's clock is flagged
NEAR_ZERO_WH: Final = 10_000  # R5: a restart lands below this and below a tenth of before
GAP_KEEP_S: Final = 35 * 24 * 3600  # a silence settles at most ~35 days of boundaries as rows


@dataclass(frozen=True, slots=True)
class Closed:
    """A settled boundary, and the interval it closed (None for a series' first boundary)."""

    ap: str
    boundary: Boundary
    interval: Interval | None


@dataclass(slots=True)
class _Open:
    """Accumulators of the open interval (the one ending at the pending boundary)."""

    max_power_w: int | None = None
    flags: set[str] = field(default_factory=set)


class MeterEngine:
    """Quarter-hour registers of one meter (one allocation point)."""

    def __init__(
        self,
        ap: str,
        *,
        interval_s: int,
        quarter_limit_wh: int | None = None,
        horizon_s: int = HORIZON_S,
    ) -> None:
        self.ap = ap
        self.interval_s = interval_s  # the meter's telegram interval: the "measured" tolerance
        self.quarter_limit_wh = quarter_limit_wh  # R2: volumes at or above this are flagged
        self.horizon_s = horizon_s
        self._last_t: int | None = None
        self._last_regs: Registers4 | None = None
        self._pending: int | None = None
        self._prev: Boundary | None = None
        self._series = 0
        self._meter: str | None = None
        self._pf_count: int | None = None
        self._open = _Open()
        self.ignored = 0  # readings not newer than the last one (duplicates, clock steps back)

    @property
    def pending(self) -> int | None:
        """The next boundary to settle (UTC epoch seconds), None before the first reading."""
        return self._pending

    @property
    def last_reading_time(self) -> int | None:
        return self._last_t

    def gap_before(self, t: int) -> bool:
        """True when a reading at `t` follows a silence (worth reading the failure counter)."""
        return self._last_t is None or t - self._last_t > 3 * self.interval_s

    def feed(
        self,
        t: int,
        registers: Registers4,
        *,
        meter: str | None = None,
        power_w: int | None = None,
        power_failures: int | None = None,
        received: int | None = None,
    ) -> list[Closed]:
        """Take one valid reading at meter time `t` (UTC epoch seconds)."""
        last_t = self._last_t
        if last_t is not None and t <= last_t:
            self.ignored += 1
            return []
        closed: list[Closed] = []
        gap_flags = self._gap_flags(power_failures)
        if last_t is not None and self._starts_new_series(registers, meter):
            # Settle under the new series: intervals reaching back across the change get no
            # delta, and nothing is interpolated between the two meters.
            self._series += 1
            self._meter = meter if meter is not None else self._meter
            closed = self._settle_until(t, registers, interpolate=False, gap_flags=gap_flags)
            self._last_regs = None  # R1 compares readings of one meter only
        elif self._pending is None:
            self._pending = t - t % STEP
            self._meter = meter
            if self._pending < t:  # measured when within the meter's interval; else a gap (R6)
                closed = [self._settle_first(t, registers)]
        elif t >= self._pending:
            closed = self._settle_until(t, registers, interpolate=True, gap_flags=gap_flags)
        if gap_flags and self._pending != t + STEP:  # the gap reaches into the open interval
            self._open.flags |= gap_flags
        self._observe(t, registers, meter, power_w, received)
        if self._pending == t and last_t is None:  # the very first reading sits on a boundary
            closed = self._settle_until(t, registers, interpolate=False, gap_flags=set())
        return closed

    def advance(self, now: int) -> list[Closed]:
        """Settle as missing the boundaries that saw no reading within the horizon by `now`."""
        closed: list[Closed] = []
        while self._pending is not None and now - self._pending > self.horizon_s:
            closed.append(self._settle(self._pending, MISSING, None, set()))
            self._skip_long_gap(now - self.horizon_s)
        return closed

    def restart_time(self) -> None:
        """The meter's clock was reset backwards (confirmed by the time gate): start a new time
        line — the next reading is placed like a first one. Boundaries already stored are kept
        (the store ignores a second row for a boundary); registers, meter and series go on."""
        self._last_t = None
        self._pending = None
        self._prev = None
        self._open = _Open()

    # -- internals ------------------------------------------------------------------------------

    def _observe(
        self, t: int, regs: Registers4, meter: str | None, power_w: int | None, received: int | None
    ) -> None:
        last = self._last_regs
        opened = self._open
        if last is not None and (
            regs[0] < last[0] or regs[1] < last[1] or regs[2] < last[2] or regs[3] < last[3]
        ):
            opened.flags.add(REGISTER_DECREASED)
        if power_w is not None and (opened.max_power_w is None or power_w > opened.max_power_w):
            opened.max_power_w = power_w
        if received is not None and abs(received - t) > SKEW_LIMIT_S:
            opened.flags.add(CLOCK_SKEW)
        self._last_t, self._last_regs = t, regs
        if meter is not None:
            self._meter = meter

    def _gap_flags(self, power_failures: int | None) -> set[str]:
        flags = set()
        if power_failures is not None:
            if self._pf_count is not None and power_failures > self._pf_count:
                flags.add(POWER_FAILURE)
            self._pf_count = power_failures
        return flags

    def _settle_first(self, t: int, regs: Registers4) -> Closed:
        boundary = t - t % STEP
        if t - boundary < self.interval_s:
            return self._settle(boundary, MEASURED, regs, set())
        return self._settle(boundary, MISSING, None, set())

    def _skip_long_gap(self, until: int) -> None:
        """After a silence's first missing boundary, skip to `GAP_KEEP_S` before `until`."""
        pending = self._pending
        if pending is not None and until - pending > GAP_KEEP_S:
            self._pending = ceil_boundary(until - GAP_KEEP_S)

    def _starts_new_series(self, regs: Registers4, meter: str | None) -> bool:
        if meter is not None and self._meter is not None and meter != self._meter:
            return True
        last = self._last_regs
        assert last is not None
        # near zero relative to before: a young meter at 630 Wh restarting at 7 Wh restarted
        now, before = sum(regs), sum(last)
        restarted = now < NEAR_ZERO_WH and 10 * now < before
        return restarted and (
            regs[0] + regs[1] < last[0] + last[1] or regs[2] + regs[3] < last[2] + last[3]
        )

    def _settle_until(
        self, t: int, regs: Registers4, *, interpolate: bool, gap_flags: set[str]
    ) -> list[Closed]:
        """Settle every boundary up to `t` with the reading (t, regs) after them."""
        closed = []
        if self._pending is None:
            self._pending = ceil_boundary(t)
        while self._pending <= t:
            boundary = self._pending
            if t - boundary < self.interval_s:
                closed.append(self._settle(boundary, MEASURED, regs, gap_flags))
            elif interpolate and self._can_interpolate(boundary, t):
                closed.append(
                    self._settle(
                        boundary, INTERPOLATED, self._interpolate(boundary, t, regs), gap_flags
                    )
                )
            else:
                closed.append(self._settle(boundary, MISSING, None, gap_flags))
                self._skip_long_gap(t)
        return closed

    def _can_interpolate(self, boundary: int, t: int) -> bool:
        last_t = self._last_t
        return (
            last_t is not None
            and boundary - last_t <= self.horizon_s
            and t - boundary <= self.horizon_s
        )

    def _interpolate(self, boundary: int, t: int, regs: Registers4) -> Registers4:
        t0, before = self._last_t, self._last_regs
        assert t0 is not None and before is not None
        span, part = t - t0, boundary - t0
        a, b, c, d = (v0 + (v1 - v0) * part // span for v0, v1 in zip(before, regs, strict=True))
        return (a, b, c, d)

    def _settle(
        self, utc: int, status: Status, regs: Registers4 | None, gap_flags: set[str]
    ) -> Closed:
        boundary = Boundary(utc, status, regs, self._meter, self._series)
        interval = None
        prev = self._prev
        if prev is not None and prev.utc == utc - STEP:
            interval = self._close_interval(prev, boundary, gap_flags)
        self._prev = boundary
        self._pending = utc + STEP
        self._open = _Open()
        return Closed(self.ap, boundary, interval)

    def _close_interval(self, prev: Boundary, boundary: Boundary, gap_flags: set[str]) -> Interval:
        flags = self._open.flags | gap_flags
        status = combine_status(prev.status, boundary.status)
        if prev.series != boundary.series:
            flags.add(METER_CHANGED)
            status = MISSING  # no delta across a meter change
        elif prev.registers is not None and boundary.registers is not None:
            flags |= self._volume_flags(prev.registers, boundary.registers)
        if REGISTER_DECREASED in flags:
            status = MISSING  # R1: a decrease leaves no trustworthy volume (no offtake/injection)
        return Interval(prev.utc, status, sort_flags(flags), self._open.max_power_w)

    def _volume_flags(self, before: Registers4, after: Registers4) -> set[str]:
        flags = set()
        if any(a < b for a, b in zip(after, before, strict=True)):
            flags.add(REGISTER_DECREASED)
        limit = self.quarter_limit_wh
        imported = after[0] + after[1] - before[0] - before[1]
        exported = after[2] + after[3] - before[2] - before[3]
        if limit is not None and max(imported, exported) >= limit:
            flags.add(CAPACITY_EXCEEDED)
        return flags

    # -- persistence ----------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """The whole state as JSON-able data (committed with each closed interval)."""
        prev = self._prev
        return {
            "last_t": self._last_t,
            "last_regs": list(self._last_regs) if self._last_regs is not None else None,
            "pending": self._pending,
            "prev": None
            if prev is None
            else [
                prev.utc,
                prev.status,
                list(prev.registers) if prev.registers else None,
                prev.meter,
                prev.series,
            ],
            "series": self._series,
            "meter": self._meter,
            "pf_count": self._pf_count,
            "open_max_power_w": self._open.max_power_w,
            "open_flags": sorted(self._open.flags),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint."""
        self._last_t = state["last_t"]
        last_regs = state["last_regs"]
        self._last_regs = _regs4(last_regs) if last_regs is not None else None
        self._pending = state["pending"]
        prev = state["prev"]
        self._prev = (
            None
            if prev is None
            else Boundary(prev[0], prev[1], _regs4(prev[2]) if prev[2] else None, prev[3], prev[4])
        )
        self._series = state["series"]
        self._meter = state["meter"]
        self._pf_count = state["pf_count"]
        self._open = _Open(state["open_max_power_w"], set(state["open_flags"]))


def _regs4(values: list[int]) -> Registers4:
    a, b, c, d = values
    return (a, b, c, d)
