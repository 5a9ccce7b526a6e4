"""Persistence of the quarter-hour registers: boundaries, intervals and engine checkpoints.

A quarter-hour's closures of every meter and their engines' checkpoints are written in one
transaction: after a power cut the database holds either the quarter-hour and the state that
produced it, or neither — never a closed interval twice, never one lost. Rows are keyed by
(allocation point, UTC epoch second), so replaying the same closure is a no-op.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from edge.registers import Boundary, Closed, Interval
from edge.registers.model import Registers4
from edge.store.db import transaction


def commit_closed(
    conn: sqlite3.Connection,
    closed: Iterable[Closed],
    checkpoints: Mapping[str, dict[str, Any]],
) -> None:
    """Store closures and the engines' state atomically (one commit, `synchronous=FULL`)."""
    with transaction(conn):
        for item in closed:
            _insert(conn, item)
        conn.executemany(
            "INSERT INTO checkpoint (ap, state) VALUES (?, ?) "
            "ON CONFLICT (ap) DO UPDATE SET state = excluded.state",
            [(ap, json.dumps(state, separators=(",", ":"))) for ap, state in checkpoints.items()],
        )


def _insert(conn: sqlite3.Connection, item: Closed) -> None:
    b = item.boundary
    regs: tuple[int | None, ...] = b.registers if b.registers is not None else (None,) * 4
    conn.execute(
        "INSERT OR IGNORE INTO boundary (ap, boundary_utc, meter, series, import_t1, import_t2,"
        " export_t1, export_t2, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (item.ap, b.utc, b.meter, b.series, *regs, b.status),
    )
    conn.execute(
        "INSERT OR IGNORE INTO meter_series (ap, series, meter, started_utc) VALUES (?, ?, ?, ?)",
        (item.ap, b.series, b.meter, b.utc),
    )
    interval = item.interval
    if interval is not None:
        conn.execute(
            "INSERT OR IGNORE INTO interval (ap, start_utc, status, flags, max_power_w)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                item.ap,
                interval.start,
                interval.status,
                ",".join(interval.flags),
                interval.max_power_w,
            ),
        )


def load_checkpoints(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Every allocation point's last committed engine state."""
    rows = conn.execute("SELECT ap, state FROM checkpoint").fetchall()
    return {ap: json.loads(state) for ap, state in rows}


def boundaries(conn: sqlite3.Connection, ap: str, start: int, end: int) -> list[Boundary]:
    """Boundaries of `ap` with start <= utc <= end, in time order."""
    rows = conn.execute(
        "SELECT boundary_utc, status, import_t1, import_t2, export_t1, export_t2, meter, series"
        " FROM boundary WHERE ap = ? AND boundary_utc BETWEEN ? AND ? ORDER BY boundary_utc",
        (ap, start, end),
    ).fetchall()
    return [
        Boundary(utc, status, _regs(r1, r2, r3, r4), meter, series)
        for utc, status, r1, r2, r3, r4, meter, series in rows
    ]


def intervals(conn: sqlite3.Connection, ap: str, start: int, end: int) -> list[Interval]:
    """Closed intervals of `ap` starting in [start, end), in time order."""
    rows = conn.execute(
        "SELECT start_utc, status, flags, max_power_w FROM interval"
        " WHERE ap = ? AND start_utc >= ? AND start_utc < ? ORDER BY start_utc",
        (ap, start, end),
    ).fetchall()
    return [
        Interval(utc, status, tuple(flags.split(",")) if flags else (), power)
        for utc, status, flags, power in rows
    ]


def last_boundary(conn: sqlite3.Connection, ap: str) -> int | None:
    """UTC epoch second of the newest settled boundary of `ap`."""
    # the table is keyed (time, ap): read backwards from the newest row to this point's first
    row = conn.execute(
        "SELECT boundary_utc FROM boundary WHERE ap = ? ORDER BY boundary_utc DESC LIMIT 1", (ap,)
    ).fetchone()
    return row[0] if row else None


def first_boundary(conn: sqlite3.Connection, ap: str) -> int | None:
    """UTC epoch second of the oldest boundary of `ap`."""
    row = conn.execute(
        "SELECT boundary_utc FROM boundary WHERE ap = ? ORDER BY boundary_utc LIMIT 1", (ap,)
    ).fetchone()
    return row[0] if row else None


def _regs(*values: int | None) -> Registers4 | None:
    a, b, c, d = values
    if a is None or b is None or c is None or d is None:
        return None
    return (a, b, c, d)


def stored_until(conn: sqlite3.Connection) -> int | None:
    """UTC epoch second of the newest boundary stored for any point (the clock's floor)."""
    row = conn.execute("SELECT max(boundary_utc) FROM boundary").fetchone()
    return row[0] if row else None
