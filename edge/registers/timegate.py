"""The plausibility gate for meter time (SPEC §4 "Meter time is judged, not trusted").

Strategy: a meter's telegrams advance by its interval (1 s or 10 s), so almost every telegram
is a small step forward from the last accepted one; that fast path is two or three integer
comparisons (`fast`). Anything else is judged (`judge`):

* against a trusted gateway clock: more than `MAX_SKEW_S` away from it is rejected outright —
  a synchronised clock outranks the meter's (no run of telegrams can overturn it);
* its S/W letter against the configured zone's offset at that instant (the swapped letter of
  `260601110640W` in summer puts the reading an hour off);
* against the last accepted time: backwards, or more than `MAX_JUMP_S` forward, is implausible.

An implausible telegram is held, not fed. A run of `CONFIRM_RUN` held telegrams that are
consistent among themselves (each a small step after the one before) is the meter's new time:
the run is released whole (nothing of a real clock reset is lost) and, when the new time lies
before the old one, the caller must restart the engine's time line (`reset`). A held run that
a plausible telegram interrupts is rejected. The first telegram a gate ever sees has nothing to
be judged against but the gateway clock: without one it needs a confirming run like a reset.
Nothing here keeps a clock: times are UTC epoch seconds passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Final, Generic, TypeVar

T = TypeVar("T")

FAST_STEP_S: Final = 900  # steps up to this need no judging (an S/W swap jumps 3 600 s)
MAX_JUMP_S: Final = 24 * 3600  # a longer silence than a day is believed only when confirmed
MAX_SKEW_S: Final = 24 * 3600  # meter time this far off a trusted gateway clock is rejected
CONFIRM_RUN: Final = 10  # consistent telegrams that make a new meter time believable
CONFIRM_STEP_S: Final = 900  # how far apart two telegrams of one consistent run may be


@dataclass(slots=True)
class Judged(Generic[T]):
    """What the gate lets through: items to feed in order; `reset`: restart the time line."""

    items: list[tuple[int, T]]
    reset: bool = False
    rejected: int = 0  # telegrams rejected by this decision (a broken run counts all of its)
    reason: str | None = None  # why the telegram was held or rejected (for the log)


@dataclass(slots=True)
class TimeGate(Generic[T]):
    """Judges the meter time of one meter's telegrams; `accepted` is the last fed time."""

    accepted: int | None = None
    adopted_offset: int | None = None  # an S/W offset a confirmed run proved to be the meter's
    held: list[tuple[int, T]] = field(default_factory=list)
    _held_offset: int | None = None

    def fast(self, t: int, received: int | None) -> bool:
        """The hot path: True (and `t` accepted) when `t` is a small step forward."""
        accepted = self.accepted
        if (
            accepted is not None
            and accepted < t <= accepted + FAST_STEP_S
            and not self.held
            and (received is None or -MAX_SKEW_S <= t - received <= MAX_SKEW_S)
        ):
            self.accepted = t
            return True
        return False

    def judge(
        self, t: int, item: T, *, received: int | None, offset_s: int | None, tz: tzinfo
    ) -> Judged[T]:
        """Judge a telegram the fast path did not take. `offset_s`: its S/W letter's UTC
        offset (None without a letter: DSMR 3 times are read in the zone itself)."""
        if received is not None and abs(t - received) > MAX_SKEW_S:
            return Judged([], rejected=1, reason="far from the gateway clock")
        letter_ok = offset_s is None or offset_s in (zone_offset(t, tz), self.adopted_offset)
        accepted = self.accepted
        if letter_ok and accepted is not None and accepted <= t <= accepted + MAX_JUMP_S:
            broken = len(self.held)
            self.held.clear()
            self.accepted = max(t, accepted)  # t == accepted: a repeat, the engine ignores it
            return Judged([(t, item)], rejected=broken)
        if letter_ok and accepted is None and received is not None:
            self.accepted = t  # nothing to compare with but a clock that vouches for it
            return Judged([(t, item)])
        reason = (
            "S/W letter contradicts the zone"
            if not letter_ok
            else None  # a first time is not implausible, only not yet confirmed
            if accepted is None
            else "backwards"
            if t < accepted
            else "more than a day forward"
        )
        return self._hold(t, item, offset_s if not letter_ok else None, reason)

    def end(self) -> Judged[T]:
        """The source ended: a run held at the very start is all there is (released); a run
        contradicting accepted time is rejected."""
        held = list(self.held)
        self.held.clear()
        if self.accepted is None and held:
            self.accepted = held[-1][0]
            return Judged(held)
        return Judged([], rejected=len(held))

    def _hold(self, t: int, item: T, offset: int | None, reason: str | None) -> Judged[T]:
        held = self.held
        broken = 0
        if held and not (held[-1][0] < t <= held[-1][0] + CONFIRM_STEP_S):
            broken = len(held)
            held.clear()
        if not held:
            self._held_offset = offset
        held.append((t, item))
        if len(held) < CONFIRM_RUN:
            return Judged([], rejected=broken, reason=reason)
        run = list(held)
        held.clear()
        if self._held_offset is not None:
            self.adopted_offset = self._held_offset
        reset = self.accepted is not None and run[0][0] <= self.accepted
        self.accepted = run[-1][0]
        return Judged(run, reset=reset, rejected=broken, reason=reason)


def zone_offset(t: int, tz: tzinfo) -> int | None:
    """The zone's UTC offset (seconds) at instant `t`."""
    delta = datetime.fromtimestamp(t, UTC).astimezone(tz).utcoffset()
    return None if delta is None else int(delta.total_seconds())
