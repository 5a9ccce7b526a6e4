"""What goes into the grid store and what comes out: plain values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["stored", "duplicate", "rejected"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A block that passed its own checks (envelope, signature by its gateway's key, contents,
    topic); the store decides against what it holds: new, duplicate, or a conflicting seq."""

    topic: str
    gw: str
    ap: str
    seq: int
    day: str  # the local day, or the month (YYYY-MM) of a monthly block
    kind: str  # "day" or "month"
    kid: str
    prev: bytes | None
    sha256: bytes
    cose: bytes  # exactly the received (signed) bytes


@dataclass(frozen=True, slots=True)
class Rejection:
    """A received message that failed before the store; kept apart with its reason.

    `gw`/`ap`/`day`/`seq` are what the signed payload says where it could be read, else what
    the topic says (None where neither is usable). `payload` is kept only up to a bound."""

    topic: str
    gw: str | None
    ap: str | None
    day: str | None
    seq: int | None
    reason: str
    size: int
    sha256: bytes
    payload: bytes | None
    key_problem: bool = False  # no trusted key for it, or not its gateway's (keys may come)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The store's verdict on one item; `gap` is a missing seq range just before a new block."""

    verdict: Verdict
    problems: tuple[str, ...] = ()
    gap: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class ChainGap:
    """Seqs `first`..`last` (inclusive) missing from the stored chain of (`gw`, `ap`)."""

    gw: str
    ap: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A stored rejection, as the allocation run counts them per day."""

    gw: str | None
    ap: str | None
    day: str | None
    reason: str
