"""The demo's closing table: per allocation point and day, what was recorded and released."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from edge.config import load_config
from edge.export import interval_rows, utc_range
from edge.registers import intervals_in_day
from edge.store import connect

if TYPE_CHECKING:
    from edge.demo.runner import Demo


def render_report(demo: Demo, config_path: Path, collector_db: Path) -> tuple[bool, str]:
    """The table and whether everything that should have arrived did (and nothing else)."""
    from edge.demo.runner import FIRST_DAY, OPT_OUT, POINTS

    config = load_config(config_path)
    conn = connect(config.gateway.data_dir)
    blocks = _collected(collector_db)
    lines = [
        "",
        f"{'point':<6} {'allocation point':<19} {'day':<11} {'meas/interp/miss':>17}"
        f" {'import kWh':>11} {'export kWh':>11}  grid operator received",
        "-" * 100,
    ]
    ok = True
    tz = ZoneInfo(config.gateway.timezone)
    for ean, _, _, _, label in POINTS:
        for offset in range(demo.days):
            day = FIRST_DAY + timedelta(days=offset)
            start, end = utc_range(day, day, tz)
            rows = interval_rows(conn, config, ean, start, end)
            counts = [sum(r["status"] == s for r in rows) for s in ("measured", "interpolated")]
            # as in the day block: an interval the store never closed is missing too
            counts.append(intervals_in_day(day, tz) - sum(counts))
            imported = sum(r["import_wh"] or 0 for r in rows) / 1000
            exported = sum(r["export_wh"] or 0 for r in rows) / 1000
            seq = blocks.get((ean, day.isoformat()))
            expect_block = not (ean == OPT_OUT and offset > 0)
            ok &= (seq is not None) == expect_block
            if seq is not None:
                received = f"block seq {seq}, verified"
            else:
                received = "nothing (opted out)" if ean == OPT_OUT else "NOTHING: missing!"
            lines.append(
                f"{label:<6} {ean:<19} {day.isoformat():<11} {'/'.join(map(str, counts)):>17}"
                f" {imported:>11.3f} {exported:>11.3f}  {received}"
            )
    conn.close()
    refused = any("already-released-today" in e for e in demo.events)
    ok &= refused
    lines += ["", *demo.events, "", "demo: OK" if ok else "demo: FAILED (the files are kept)"]
    return ok, "\n".join(lines)


def _collected(path: Path) -> dict[tuple[str, str], int]:
    if not path.exists():
        return {}
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT ap, day, seq FROM block").fetchall()
    finally:
        conn.close()
    return {(ap, day): seq for ap, day, seq in rows}
