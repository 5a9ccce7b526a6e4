"""The meter's own monthly peaks (Belgian `1-0:1.6.0` and `0-0:98.1.0`), as it reported them.

Strategy: one row per (allocation point, local month), overwritten when the meter reports a
different value. A meter repeats the same figures in every telegram (every second), so the
recorder keeps what it last wrote in memory and touches the database only on a change: a few
writes per month, not one per telegram (SD cards wear). Each write is its own small commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from edge.store.db import transaction


@dataclass(frozen=True, slots=True)
class MeterPeak:
    """One month's peak as the meter reported it (W; when, UTC epoch seconds, if it said)."""

    ap: str
    month: str  # "YYYY-MM", local
    peak_w: int
    peak_utc: int | None


def save_meter_peaks(conn: sqlite3.Connection, peaks: Iterable[MeterPeak]) -> None:
    """Insert or replace the given months' peaks in one transaction."""
    rows = [(p.ap, p.month, p.peak_w, p.peak_utc) for p in peaks]
    if not rows:
        return
    with transaction(conn):
        conn.executemany(
            "INSERT INTO meter_peak (ap, month, peak_w, peak_utc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (ap, month) DO UPDATE SET peak_w = excluded.peak_w,"
            " peak_utc = excluded.peak_utc",
            rows,
        )


def meter_peaks(conn: sqlite3.Connection, ap: str | None = None) -> list[MeterPeak]:
    """Every stored meter peak (of one point, if given), by point and month."""
    query = "SELECT ap, month, peak_w, peak_utc FROM meter_peak"
    args: tuple[str, ...] = ()
    if ap is not None:
        query += " WHERE ap = ?"
        args = (ap,)
    rows = conn.execute(query + " ORDER BY ap, month", args).fetchall()
    return [MeterPeak(a, m, w, u) for a, m, w, u in rows]


def has_meter_peaks(conn: sqlite3.Connection) -> bool:
    """False on a database from before the table existed (a read-only open does not migrate)."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meter_peak'"
    ).fetchone()
    return row is not None
