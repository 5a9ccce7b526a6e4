"""Consent history of one allocation point and the opt-out rule for days.

Strategy: consent is an append-only history of changes; the current state is its last entry and
the opt-out periods are derived from it, so nothing is ever forgotten. The rule that keeps the
customer's promise: a period of days is releasable only if *no moment* of it, including both of
its boundary instants, fell inside an opt-out period (also closed at both ends). A day block
carries the boundary readings at its start and its end, so a reading taken at the very instant of
an opt-out was recorded during the opt-out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from edge.policy.periods import require_aware

Actor = Literal["customer", "grid-operator"]
ACTORS: tuple[Actor, ...] = ("customer", "grid-operator")


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """One consent change: from `at` (UTC) the point is opted out or in, set by `by`.

    `ref` is the request id of a grid operator command ("" for the customer's CLI).
    """

    at: datetime
    opted_out: bool
    by: Actor
    ref: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", require_aware(self.at, "ConsentChange.at"))
        if self.by not in ACTORS:
            raise ValueError(f"consent actor must be one of {ACTORS}, got {self.by!r}")


History = tuple[ConsentChange, ...]


def is_opted_out(history: History) -> bool:
    """Current consent: opted in until the first opt-out (the NL default is automatic reading)."""
    return bool(history) and history[-1].opted_out


def set_by(history: History) -> Actor | None:
    """Who set the current consent state (None: never changed, the default opt-in)."""
    return history[-1].by if history else None


def append_change(history: History, change: ConsentChange) -> History:
    """The history with `change` appended, kept in time order.

    A gateway clock that stepped back must not shorten an opt-out that already began, so a change
    dated before the last one is moved forward to the last one's instant.
    """
    if history and change.at < history[-1].at:
        change = ConsentChange(history[-1].at, change.opted_out, change.by, change.ref)
    return (*history, change)


def opt_out_spans(history: History) -> Iterator[tuple[datetime, datetime | None]]:
    """Closed opt-out spans (start, end); end None means still opted out."""
    start: datetime | None = None
    for change in history:
        if change.opted_out and start is None:
            start = change.at
        elif not change.opted_out and start is not None:
            yield start, change.at
            start = None
    if start is not None:
        yield start, None


def touched_by_opt_out(history: History, start: datetime, end: datetime) -> bool:
    """True if any instant of the closed span [start, end] fell inside an opt-out span."""
    for out_from, out_until in opt_out_spans(history):
        if out_from <= end and (out_until is None or out_until >= start):
            return True
    return False
