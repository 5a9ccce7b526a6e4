"""Rows for `edge-agent export`: boundary readings, or intervals with allocation.

Boundary rows carry exactly the columns
`ap,meter,boundary_utc,import_t1_wh,import_t2_wh,export_t1_wh,export_t2_wh,status` (missing
readings empty). Interval rows add volumes, the maximum power and the allocation: the primary
point's offtake/injection is the main meter's net minus the secondaries' nets (SPEC §4). An
interval without a trustworthy volume (missing, or `register_decreased`) has empty volumes and
allocation and the status `missing`; R7 (`secondary_exceeds_primary`) is computed here and in
the day blocks by the same `r7_flags`.
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
    has_own_generation,
    iso_utc,
    secondaries_exceed_primary,
    split,
    volume,
)
from edge.registers.model import REGISTER_DECREASED, SECONDARY_EXCEEDS_PRIMARY, sort_flags
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
    r7 = r7_flags(conn, config.primary.ean, [p.ean for p in config.secondaries], start, end)
    rows = []
    for interval in intervals(conn, ap, start, end):
        meter, vol = own.get(interval.start, (None, None))
        if is_primary:
            secs = [o.get(interval.start, (None, None))[1] for o in others]
            allocation = allocate_primary(vol, secs)
        else:
            allocation = split(vol.net if vol is not None else None)
        flags = list(interval.flags)
        if ap in r7.get(interval.start, ()):
            flags = list(sort_flags({*flags, SECONDARY_EXCEEDS_PRIMARY}))
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


def r7_flags(
    conn: sqlite3.Connection, primary: str, secondaries: Sequence[str], start: int, end: int
) -> dict[int, frozenset[str]]:
    """R7 over [start, end): interval start -> the points whose block carries the flag (the
    primary, whose allocation is derived from the secondaries, and every secondary that drew
    energy in that quarter). Only quarters in which every meter has a trustworthy volume."""
    if not secondaries:
        return {}
    main = _volumes(conn, primary, start, end)
    main_regs = {b.utc: b.registers for b in boundaries(conn, primary, start, end)}
    secs = [(ean, _volumes(conn, ean, start, end)) for ean in secondaries]
    sec_regs = [{b.utc: b.registers for b in boundaries(conn, e, start, end)} for e in secondaries]
    out: dict[int, frozenset[str]] = {}
    for utc, (_meter, vol) in main.items():
        sec_vols = [v.get(utc, (None, None))[1] for _, v in secs]
        if vol is None or any(v is None for v in sec_vols):
            continue
        known = [v for v in sec_vols if v is not None]
        before = main_regs.get(utc)
        others = [regs.get(utc) for regs in sec_regs]
        generation = before is not None and has_own_generation(
            before[2] + before[3], [r[2] + r[3] for r in others if r is not None]
        )
        if secondaries_exceed_primary(vol, known, own_generation=generation):
            drew = {ean for (ean, _), v in zip(secs, known, strict=True) if v.imported > 0}
            out[utc] = frozenset({primary, *drew})
    return out


def _volumes(
    conn: sqlite3.Connection, ap: str, start: int, end: int
) -> dict[int, tuple[str | None, Volume | None]]:
    """Interval start -> (meter, volume); no volume where the interval has none to trust: a
    missing interval, or one whose registers decreased (R1: no offtake/injection from it)."""
    by_time: dict[int, Boundary] = {b.utc: b for b in boundaries(conn, ap, start, end)}
    untrusted = {
        i.start
        for i in intervals(conn, ap, start, end)
        if i.status == MISSING or REGISTER_DECREASED in i.flags
    }
    out: dict[int, tuple[str | None, Volume | None]] = {}
    for utc, before in by_time.items():
        after = by_time.get(utc + STEP)
        if after is not None:
            out[utc] = (after.meter, None if utc in untrusted else volume(before, after))
    return out
