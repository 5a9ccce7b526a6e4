"""The values a decision hands back to the shell.

Strategy (like h11): a transition never acts; it returns the new state and a list of effects —
releases to sign and queue, outboxes to empty, log entries to append, a reply to publish. The
shell performs them and persists the state in the same store transaction as the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from edge.policy.config import Regime
from edge.policy.log import LogEntry
from edge.policy.periods import Period
from edge.policy.state import PolicyState

RefusalReason = Literal[
    "bad-signature",
    "unknown-allocation-point",
    "expired",
    "replayed",
    "opted-out",
    "already-released-today",
    "nothing-complete",
    "customer-opted-out",
]
ReplyStatus = Literal["released", "refused", "consent-set", "resent"]


@dataclass(frozen=True, slots=True)
class Release:
    """Periods of `ap` to sign and queue now: days (quarter-hour) or months (monthly regime)."""

    ap: str
    regime: Regime
    periods: tuple[Period, ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a grid operator request, published on `…/cmd/<type>/reply`."""

    request_id: str
    type: str
    ap: str
    status: ReplyStatus
    reason: RefusalReason | None = None
    periods: tuple[Period, ...] = ()
    opted_out: bool | None = None
    seqs: tuple[int, int] | None = None
    blocks: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The reply as plain JSON types; periods as [first, last] ISO date pairs."""
        body: dict[str, Any] = {"request_id": self.request_id, "type": self.type, "ap": self.ap}
        body["status"] = self.status
        if self.reason is not None:
            body["reason"] = self.reason
        if self.status == "released":
            body["periods"] = [[p.first.isoformat(), p.last.isoformat()] for p in self.periods]
        if self.opted_out is not None:
            body["consent"] = "opted-out" if self.opted_out else "opted-in"
        if self.seqs is not None:
            body["from_seq"], body["to_seq"] = self.seqs
        if self.blocks is not None:
            body["blocks"] = self.blocks
        return body


@dataclass(frozen=True, slots=True)
class Resend:
    """Re-queue the archived (already signed) blocks of `ap` with seq in [first, last]."""

    ap: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """A transition's result: the new state and the effects for the shell to carry out.

    `delete_outbox` lists allocation points whose undelivered outbox entries must go at once.
    """

    state: PolicyState
    releases: tuple[Release, ...] = ()
    delete_outbox: tuple[str, ...] = ()
    log: tuple[LogEntry, ...] = ()
    reply: Reply | None = None
    resend: Resend | None = None
