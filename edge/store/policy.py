"""Persistence of the readout policy: its state and the consumer log (SPEC §5).

Both are written in the caller's transaction, together with the blocks and outbox entries a
decision produces, so that "released", "queued" and "logged" are one fact after a power cut.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from edge.policy import LogEntry, PolicyState, state_from_json, state_to_json


def load_state(conn: sqlite3.Connection) -> PolicyState:
    row = conn.execute("SELECT state FROM policy_state WHERE id = 1").fetchone()
    return state_from_json(json.loads(row[0])) if row else PolicyState()


def save_state(conn: sqlite3.Connection, state: PolicyState) -> None:
    """Within the caller's transaction."""
    conn.execute(
        "INSERT INTO policy_state (id, state) VALUES (1, ?) "
        "ON CONFLICT (id) DO UPDATE SET state = excluded.state",
        (json.dumps(state_to_json(state), separators=(",", ":")),),
    )


def append_log(conn: sqlite3.Connection, entries: tuple[LogEntry, ...] | list[LogEntry]) -> None:
    """Within the caller's transaction."""
    conn.executemany(
        "INSERT INTO consumer_log (at_utc, entry) VALUES (?, ?)",
        [(int(e.at.timestamp()), json.dumps(e.to_json())) for e in entries],
    )


def logged_since(conn: sqlite3.Connection, prefix: str, since: datetime) -> bool:
    """True if an unattributed refusal row whose detail begins with `prefix` was written at or
    after `since` (the rate limit of unverified requests survives a restart)."""
    row = conn.execute(
        "SELECT 1 FROM consumer_log WHERE at_utc >= ? AND json_extract(entry, '$.kind') = "
        "'refusal' AND substr(json_extract(entry, '$.detail'), 1, ?) = ? LIMIT 1",
        (int(since.timestamp()), len(prefix), prefix),
    ).fetchone()
    return row is not None


def read_log(conn: sqlite3.Connection, ap: str | None = None) -> list[LogEntry]:
    rows = conn.execute("SELECT entry FROM consumer_log ORDER BY id").fetchall()
    entries = [LogEntry.from_json(json.loads(row[0])) for row in rows]
    return [e for e in entries if ap is None or e.ap == ap]
