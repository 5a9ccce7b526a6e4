"""A consent change made on the page: the same code path as `edge-agent consent`.

Strategy: the page never holds policy state of its own. It opens a write connection of its own
beside the running agent (as the CLI does), and in one `BEGIN IMMEDIATE` transaction loads the
policy state, lets the pure policy decide (`set_consent`, by the customer — the customer's
choice wins), deletes the point's undelivered blocks on an opt-out, saves the state and appends
the consumer log line. The change is marked "(web)" in the consent history and in the log line
("opted out by customer (web)"), so the customer can tell the page from the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.commands.consent import _now as agent_now  # the CLI's "now": meter time in replays
from edge.config import Config
from edge.policy import set_consent
from edge.store import connect
from edge.store.db import transaction
from edge.store.outbox import Outbox
from edge.store.policy import append_log, load_state, save_state

WEB_REF = "web"


@dataclass(frozen=True, slots=True)
class ConsentResult:
    """What the change did: the log line written and how many queued blocks were deleted."""

    detail: str
    deleted: int


def change_consent(config: Config, ap: str, *, opted_out: bool) -> ConsentResult:
    """Opt `ap` out or in as the customer; `ap` must be configured (checked by the caller)."""
    conn = connect(config.gateway.data_dir)
    try:
        now = agent_now(config, conn)
        with transaction(conn):
            state = load_state(conn)
            outcome = set_consent(
                state, now, config.policy, ap, opted_out=opted_out, by="customer", ref=WEB_REF
            )
            deleted = sum(Outbox(conn).delete_for_ap(point) for point in outcome.delete_outbox)
            save_state(conn, outcome.state)
            append_log(conn, outcome.log)
    finally:
        conn.close()
    return ConsentResult(outcome.log[0].detail if outcome.log else "", deleted)
