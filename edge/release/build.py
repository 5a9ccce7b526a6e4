"""A local day of one allocation point, from the store into a day block's content.

Every boundary of the day appears: a boundary the store does not have (never settled, or before
the gateway was installed) is a missing reading, and an interval without a stored row is
missing. Nothing is filled in: the block says what was measured, interpolated or missing. An
interval whose registers decreased is `missing` with its flag (no volume to trust), and R7's
`secondary_exceeds_primary` travels in the blocks of the points it concerns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from edge.blocks.month import MonthReadings, month_span, series_spans
from edge.blocks.payload import REGISTERS, DayReadings
from edge.export import r7_flags
from edge.registers import MISSING, STEP, day_range
from edge.registers.model import REGISTER_DECREASED, SECONDARY_EXCEEDS_PRIMARY, sort_flags
from edge.store.registers import boundaries, intervals

UNKNOWN_METER = "unknown"


def day_readings(
    conn: sqlite3.Connection,
    *,
    gw: str,
    ap: str,
    role: str,
    day: date,
    tz: str,
    points: Sequence[tuple[str, str]] = (),
) -> DayReadings:
    """The day block content of `ap` for the local `day`. `points`: (ean, role) of every
    allocation point of the connection, for R7 (`secondary_exceeds_primary`) in the flags."""
    start, end = day_range(day, ZoneInfo(tz))
    n = (end - start) // STEP
    stored = {b.utc: b for b in boundaries(conn, ap, start, end)}
    columns: list[list[int | None]] = [[] for _ in REGISTERS]
    meter = UNKNOWN_METER
    for k in range(n + 1):
        boundary = stored.get(start + k * STEP)
        regs = boundary.registers if boundary is not None else None
        for column, value in zip(columns, regs or (None,) * 4, strict=True):
            column.append(value)
        if boundary is not None and boundary.meter:
            meter = boundary.meter  # the meter at the end of the day (after a replacement)
    closed = {i.start: i for i in intervals(conn, ap, start, end)}
    primary = [ean for ean, r in points if r == "primary"]
    secondaries = [ean for ean, r in points if r == "secondary"]
    r7 = r7_flags(conn, primary[0], secondaries, start, end) if primary else {}
    status: list[str] = []
    flags: list[tuple[str, ...]] = []
    for k in range(n):
        interval = closed.get(start + k * STEP)
        found = set(interval.flags) if interval is not None else set()
        if ap in r7.get(start + k * STEP, ()):
            found.add(SECONDARY_EXCEEDS_PRIMARY)
        # a decrease leaves no trustworthy volume (R1): never `measured`, whatever was stored
        status.append(
            MISSING if interval is None or REGISTER_DECREASED in found else interval.status
        )
        flags.append(sort_flags(found))
    return DayReadings(
        gw=gw,
        ap=ap,
        role=role,
        meter=meter,
        day=day,
        tz=tz,
        start=datetime.fromtimestamp(start, UTC),
        readings={name: tuple(column) for name, column in zip(REGISTERS, columns, strict=True)},
        status=tuple(status),
        flags=tuple(flags),
    )


def month_readings(
    conn: sqlite3.Connection, *, gw: str, ap: str, role: str, month: str, tz: str
) -> MonthReadings:
    """The monthly block content of `ap`: the readings at the month's first and last boundary."""
    start, end = month_span(month, tz)
    # every boundary of the month (about 3 000 rows, once a month): a meter change inside it
    # makes two series, carried apart (R5: no delta across the change)
    stored = boundaries(conn, ap, int(start.timestamp()), int(end.timestamp()))
    first = [b for b in stored[:1] if b.utc == int(start.timestamp())]
    last = [b for b in stored[-1:] if b.utc == int(end.timestamp())]
    pair = [first[0] if first else None, last[0] if last else None]
    regs = [b.registers if b is not None else None for b in pair]
    meter = next((b.meter for b in reversed(pair) if b is not None and b.meter), UNKNOWN_METER)
    return MonthReadings(
        gw=gw,
        ap=ap,
        role=role,
        meter=meter,
        month=month,
        tz=tz,
        readings={
            name: (regs[0][i] if regs[0] else None, regs[1][i] if regs[1] else None)
            for i, name in enumerate(REGISTERS)
        },
        status=(
            pair[0].status if pair[0] is not None else MISSING,
            pair[1].status if pair[1] is not None else MISSING,
        ),
        series=series_spans(stored, UNKNOWN_METER),
    )
