"""The durable outbox (messages waiting for a PUBACK) and the archive of signed day blocks.

Strategy: the outbox table is the truth about what still has to leave the gateway; paho's own
session lives in memory and dies with the process. An entry is written in the caller's
transaction (the same one that records the release and the policy state, so a crash never
splits them) and deleted only when the broker acknowledged it with a success reason code.
Order matters per allocation point only: `heads()` hands out the oldest entry of each point,
and the publisher sends a point's next entry only after the previous one was acknowledged.
Ids come from AUTOINCREMENT, so they are never reused and id order is queue order.

A full outbox refuses new entries with `OutboxFullError` instead of dropping old ones: the
caller rolls back its release (nothing is marked released), raises the alarm in its status,
and keeps recording registers locally; the release is retried once there is room.

Thread rule: an `Outbox` wraps one `sqlite3.Connection` and is used on one thread only. The
agent enqueues on its own connection; the MQTT publisher acks and fails on another.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from edge.errors import OutboxFullError, StoreError

DEFAULT_CAPACITY = 10_000
_COLUMNS = "id, ap, topic, payload, qos, created_utc, attempts, last_error"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One queued message; `attempts` counts refused publishes, `last_error` says why."""

    id: int
    ap: str
    topic: str
    payload: bytes
    qos: int
    created_utc: int
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ArchivedBlock:
    """A signed block as stored: `cose` are the exact bytes that were signed and sent."""

    ap: str
    seq: int
    period: str
    cose: bytes
    sha256: bytes
    created_utc: int


def _unix(moment: datetime | int) -> int:
    if isinstance(moment, datetime):
        if moment.utcoffset() is None:
            raise StoreError(f"naive datetime {moment!r}: pass an aware (UTC) datetime")
        return int(moment.timestamp())
    return int(moment)


def _entry(row: tuple[object, ...]) -> OutboxEntry:
    return OutboxEntry(*row)  # type: ignore[arg-type]  # columns in _COLUMNS order


class Outbox:
    """The outbox on one connection (one thread); `capacity` bounds the number of entries."""

    def __init__(self, conn: sqlite3.Connection, *, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise StoreError(f"outbox capacity must be at least 1, got {capacity}")
        self.conn = conn
        self.capacity = capacity

    def enqueue(
        self, ap: str, topic: str, payload: bytes, *, now: datetime | int, qos: int = 1
    ) -> int:
        """Queue a message behind the other entries of `ap`; returns its id.

        Runs in the caller's transaction (nothing is committed here). Raises `OutboxFullError`
        when the outbox already holds `capacity` entries.
        """
        if self.depth() >= self.capacity:
            raise OutboxFullError(
                f"outbox full ({self.capacity} entries): not queueing {topic}; "
                "the broker is not taking messages"
            )
        cursor = self.conn.execute(
            "INSERT INTO outbox (ap, topic, payload, qos, created_utc) VALUES (?, ?, ?, ?, ?)",
            (ap, topic, bytes(payload), qos, _unix(now)),
        )
        assert cursor.lastrowid is not None  # an INSERT into a rowid table always has one
        return cursor.lastrowid

    def heads(self, *, exclude: Collection[str] = ()) -> list[OutboxEntry]:
        """The oldest entry of each allocation point (not in `exclude`), oldest first.

        Only these may be sent: a point's next entry waits until its head is acknowledged.
        """
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE id IN "
            "(SELECT MIN(id) FROM outbox GROUP BY ap) ORDER BY id"
        ).fetchall()
        return [_entry(row) for row in rows if row[1] not in exclude]

    def get(self, entry_id: int) -> OutboxEntry | None:
        """The entry with this id, or None if it was acknowledged or deleted."""
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (entry_id,))
        found = row.fetchone()
        return None if found is None else _entry(found)

    def entries(self, ap: str | None = None) -> list[OutboxEntry]:
        """All entries (of one point), in queue order."""
        where, args = ("WHERE ap = ?", (ap,)) if ap is not None else ("", ())
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM outbox {where} ORDER BY id", args)
        return [_entry(row) for row in rows.fetchall()]

    def ack(self, entry_id: int) -> bool:
        """Delete an acknowledged entry; False if it was already gone (e.g. opted out)."""
        return self.conn.execute("DELETE FROM outbox WHERE id = ?", (entry_id,)).rowcount > 0

    def fail(self, entry_id: int, reason: str) -> None:
        """Record a refused publish: the entry stays (and keeps its place) for a retry."""
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            (reason, entry_id),
        )

    def clear_error(self, entry_id: int) -> None:
        """Forget the last error of an entry (it is being sent again)."""
        self.conn.execute("UPDATE outbox SET last_error = NULL WHERE id = ?", (entry_id,))

    def delete_for_ap(self, ap: str) -> int:
        """Delete every undelivered entry of `ap` (opt-out); returns how many."""
        return sum(self.delete_for_ap_counted(ap))

    def delete_for_ap_counted(self, ap: str) -> tuple[int, int]:
        """Delete every entry of `ap` (opt-out); returns (never sent, already handed to the
        broker by `mark_sent`) — the latter may have reached the grid operator."""
        sent = self.conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE ap = ? AND sent_utc IS NOT NULL", (ap,)
        ).fetchone()[0]
        total = self.conn.execute("DELETE FROM outbox WHERE ap = ?", (ap,)).rowcount
        return total - int(sent), int(sent)

    def mark_sent(self, entry_id: int, now: datetime | int) -> bool:
        """Mark an entry as handed to the broker; call it (committed) *before* publishing it.

        False when the entry is gone (deleted by an opt-out meanwhile): then it must not be
        published. SQLite orders this write against the opt-out's transaction, so the opt-out
        counts exactly the entries that may have left.
        """
        cursor = self.conn.execute(
            "UPDATE outbox SET sent_utc = ? WHERE id = ?", (_unix(now), entry_id)
        )
        return cursor.rowcount > 0

    def depth(self) -> int:
        """Number of entries waiting."""
        return int(self.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def is_full(self) -> bool:
        """True when no new entry fits: the agent shows an alarm in its status."""
        return self.depth() >= self.capacity

    def failing(self) -> list[OutboxEntry]:
        """Entries whose last publish was refused, oldest first (for status and logs)."""
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE last_error IS NOT NULL ORDER BY id"
        )
        return [_entry(row) for row in rows.fetchall()]


def archive_block(
    conn: sqlite3.Connection, *, ap: str, seq: int, period: str, cose: bytes, now: datetime | int
) -> ArchivedBlock:
    """Store a signed block as it is, in the caller's transaction.

    A second block with the same (ap, seq) raises `StoreError`: a seq is never reused.
    """
    block = ArchivedBlock(ap, seq, period, bytes(cose), hashlib.sha256(cose).digest(), _unix(now))
    try:
        conn.execute(
            "INSERT INTO block (ap, seq, period, cose, sha256, created_utc) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (block.ap, block.seq, block.period, block.cose, block.sha256, block.created_utc),
        )
    except sqlite3.IntegrityError:
        raise StoreError(
            f"block {ap} seq {seq} is already archived; a seq is never reused"
        ) from None
    return block


def archived_blocks(conn: sqlite3.Connection, ap: str) -> list[ArchivedBlock]:
    """Every archived block of `ap`, by seq."""
    rows = conn.execute(
        "SELECT ap, seq, period, cose, sha256, created_utc FROM block WHERE ap = ? ORDER BY seq",
        (ap,),
    )
    return [ArchivedBlock(*row) for row in rows.fetchall()]


def archived_range(conn: sqlite3.Connection, ap: str, first: int, last: int) -> list[ArchivedBlock]:
    """The archived blocks of `ap` with seq in [first, last], by seq (for a resend)."""
    rows = conn.execute(
        "SELECT ap, seq, period, cose, sha256, created_utc FROM block "
        "WHERE ap = ? AND seq BETWEEN ? AND ? ORDER BY seq",
        (ap, first, last),
    )
    return [ArchivedBlock(*row) for row in rows.fetchall()]


def last_block(conn: sqlite3.Connection, ap: str) -> ArchivedBlock | None:
    """The newest archived block of `ap` (its seq + 1 and sha256 make the next block's chain)."""
    row = conn.execute(
        "SELECT ap, seq, period, cose, sha256, created_utc FROM block WHERE ap = ? "
        "ORDER BY seq DESC LIMIT 1",
        (ap,),
    ).fetchone()
    return None if row is None else ArchivedBlock(*row)
