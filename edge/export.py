"""Rows for `edge-agent export`: boundary readings, or intervals with allocation.

Boundary rows carry exactly the columns
`ap,meter,boundary_utc,import_t1_wh,import_t2_wh,export_t1_wh,export_t2_wh,status` (missing
readings empty). Interval rows add volumes, the maximum power and the allocation: the primary
point's offtake/injection is the main meter's net minus the secondaries' nets (SPEC §4).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, tzinfo
from typing import Any, Final

from edge.config import Config
from edge.registers import (
    MISSING,
    STEP,
    Boundary,
    Volume,
    allocate_primary,
    day_range,
    iso_utc,
    secondaries_exceed_primary,
    split,
    volume,
)
from edge.store.registers import boundaries, intervals

BOUNDARY_COLUMNS: Final = (
    "ap", "meter", "boundary_utc", "import_t1_wh", "import_t2_wh", "export_t1_wh",
    "export_t2_wh", "status",
)  # fmt: skip
INTERVAL_COLUMNS: Final = (
    "ap", "meter", "start_utc", "end_utc", "import_wh", "export_wh", "max_power_w",
    "offtake_wh", "injection_wh", "status", "flags",
)  # fmt: skip


def utc_range(first: date, last: date, tz: tzinfo) -> tuple[int, int]:
    """From the first local day's first boundary to the last day's final boundary."""
    return day_range(first, tz)[0], day_range(last, tz)[1]


def boundary_rows(conn: sqlite3.Connection, ap: str, start: int, end: int) -> list[dict[str, Any]]:
    rows = []
    for b in boundaries(conn, ap, start, end):
        regs: Sequence[int | None] = b.registers if b.registers is not None else (None,) * 4
        values = dict(zip(BOUNDARY_COLUMNS[3:7], regs, strict=True))
        rows.append(
            {
                "ap": ap,
                "meter": b.meter,
                "boundary_utc": iso_utc(b.utc),
                **values,
                "status": b.status,
            }
        )
    return rows


def interval_rows(
    conn: sqlite3.Connection, config: Config, ap: str, start: int, end: int
) -> list[dict[str, Any]]:
    own = _volumes(conn, ap, start, end)
    is_primary = ap == config.primary.ean
    others = [_volumes(conn, p.ean, start, end) for p in config.secondaries] if is_primary else []
    rows = []
    for interval in intervals(conn, ap, start, end):
        meter, vol = own.get(interval.start, (None, None))
        if is_primary:
            secs = [o.get(interval.start, (None, None))[1] for o in others]
            allocation = allocate_primary(vol, secs)
            flags = list(interval.flags)
            known = [s for s in secs if s is not None]
            if (
                vol is not None
                and len(known) == len(secs)
                and secondaries_exceed_primary(vol, known)
            ):
                flags.append("secondary_exceeds_primary")
        else:
            allocation = split(vol.net if vol is not None else None)
            flags = list(interval.flags)
        rows.append(
            {
                "ap": ap,
                "meter": meter,
                "start_utc": iso_utc(interval.start),
                "end_utc": iso_utc(interval.start + STEP),
                "import_wh": vol.imported if vol else None,
                "export_wh": vol.exported if vol else None,
                "max_power_w": interval.max_power_w,
                "offtake_wh": allocation.offtake,
                "injection_wh": allocation.injection,
                "status": MISSING if vol is None else interval.status,
                "flags": flags,
            }
        )
    return rows


def _volumes(
    conn: sqlite3.Connection, ap: str, start: int, end: int
) -> dict[int, tuple[str | None, Volume | None]]:
    by_time: dict[int, Boundary] = {b.utc: b for b in boundaries(conn, ap, start, end)}
    out: dict[int, tuple[str | None, Volume | None]] = {}
    for utc, before in by_time.items():
        after = by_time.get(utc + STEP)
        if after is not None:
            out[utc] = (after.meter, volume(before, after))
    return out
