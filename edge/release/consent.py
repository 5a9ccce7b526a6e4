"""A consent change carried out against the store: the one path for the CLI, the page and the
grid operator's signed command.

Strategy: in ONE write transaction the policy state is loaded, the pure policy decides
(`edge.policy.set_consent`: who may lift whose opt-out), the point's queued blocks are deleted on
an opt-out, and the state and the consumer log are written. The deletion tells the truth about
blocks the grid link already handed to the broker: the link marks an entry sent *before* it
publishes it, in a write that SQLite orders against this transaction, so an entry is either
deleted unsent (and can no longer leave) or counted as "already sent".
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from edge.policy import Actor, LogEntry, PolicyConfig, Reply, set_consent
from edge.store.db import transaction
from edge.store.outbox import Outbox
from edge.store.policy import append_log, load_state, save_state

ConsentWord = Literal["opt-in", "opt-out"]


@dataclass(frozen=True, slots=True)
class Deleted:
    """What an opt-out removed from the outbox: `deleted` never left, `already_sent` had been
    handed to the broker (they may have reached the grid operator)."""

    ap: str
    deleted: int
    already_sent: int

    def __str__(self) -> str:
        return f"{self.deleted} undelivered blocks deleted, {self.already_sent} already sent"

    def entry(self, now: datetime) -> LogEntry:
        """The consumer-log line of the deletion."""
        return LogEntry(now, "consent", self.ap, f"opt-out: {self}")


@dataclass(frozen=True, slots=True)
class ConsentResult:
    """The outcome of `change_consent`: the log lines written, the refusal (if the policy
    refused, e.g. `customer-opted-out`) and what an opt-out deleted."""

    ap: str
    changed: bool
    detail: str
    refused: Reply | None = None
    deleted: Deleted | None = None

    @property
    def message(self) -> str:
        """One human line, as `edge-agent consent` prints it."""
        if self.deleted is not None:
            return f"{self.detail}; {self.deleted}"
        return self.detail


def delete_undelivered(conn: sqlite3.Connection, outbox: Outbox, ap: str) -> Deleted:
    """Delete every outbox entry of `ap` in the caller's transaction, counting those the link
    had already published (see the module text)."""
    unsent, sent = outbox.delete_for_ap_counted(ap)
    return Deleted(ap, unsent, sent)


def change_consent(
    conn: sqlite3.Connection,
    policy: PolicyConfig,
    ap: str,
    state: ConsentWord,
    *,
    by: Actor,
    now: datetime,
    ref: str = "",
) -> ConsentResult:
    """Set `ap`'s consent to `state` as `by` at `now`, atomically; returns what happened.

    Raises `UnknownAllocationPointError` for a point the gateway does not serve.
    """
    with transaction(conn):
        before = load_state(conn)
        outcome = set_consent(before, now, policy, ap, opted_out=state == "opt-out", by=by, ref=ref)
        log = list(outcome.log)
        deleted = None
        if outcome.reply is None:
            for point in outcome.delete_outbox:
                deleted = delete_undelivered(conn, Outbox(conn), point)
                log.append(deleted.entry(now))
            save_state(conn, outcome.state)
        append_log(conn, log)
    detail = outcome.log[0].detail if outcome.log else ""
    return ConsentResult(ap, outcome.state != before, detail, outcome.reply, deleted)
