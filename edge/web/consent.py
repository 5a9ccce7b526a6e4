"""A consent change made on the page: the same code path as `edge-agent consent`.

Strategy: the page never holds policy state of its own. It opens a write connection of its own
beside the running agent (as the CLI does) and calls `edge.release.consent.change_consent`, the
one path of the CLI and the grid operator's command: one `BEGIN IMMEDIATE` transaction, the pure
policy decides (by the customer — the customer's choice wins), an opt-out deletes the point's
undelivered blocks and counts those already sent. The change is marked "(web)" in the consent
history and in the log line ("opted out by customer (web)"), so the customer can tell the page
from the CLI.
"""

from __future__ import annotations

from edge.commands.consent import agent_now  # the CLI's "now": meter time in replays
from edge.config import Config
from edge.release.consent import ConsentResult, ConsentWord
from edge.release.consent import change_consent as change_in_store
from edge.store import connect

WEB_REF = "web"


def change_consent(config: Config, ap: str, *, opted_out: bool) -> ConsentResult:
    """Opt `ap` out or in as the customer; `ap` must be configured (checked by the caller)."""
    conn = connect(config.gateway.data_dir)
    try:
        word: ConsentWord = "opt-out" if opted_out else "opt-in"
        return change_in_store(
            conn, config.policy, ap, word, by="customer", now=agent_now(config, conn), ref=WEB_REF
        )
    finally:
        conn.close()
