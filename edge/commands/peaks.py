"""`edge-agent peaks`: the capacity tariff's monthly peaks, the 12-month mean, the meter's own.

Strategy: a read-only view of the store (the agent may be running). JSON is the stable interface
(a list of objects with exactly the keys of `PeakRow.as_json`); the table is for people and adds
coverage and a mismatch mark where the meter's own figure disagrees beyond rounding. Both say
which figure each month counts with in the 12-month mean (`counted_w`) and its `source`: "ours"
over a month our quarter-hours cover whole, else "meter" (its own 1-0:1.6.0 / 0-0:98.1.0).
"""

from __future__ import annotations

import argparse
import json
import sys
from zoneinfo import ZoneInfo

from edge.commands.common import (
    add_config_argument,
    config_or_exit,
    month_argument,
    open_store_or_exit,
)
from edge.local.report import PeakRow, peak_rows
from edge.registers.capacity import FLOOR_W, PEAK_TOLERANCE_W
from edge.registers.timegrid import iso_utc


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "peaks",
        help="capacity tariff: monthly peaks and the 12-month mean",
        description="Per allocation point and local month: the highest quarter-hour average "
        f"import power (W), the meter's own figure (Belgian 1-0:1.6.0 / 0-0:98.1.0) and the "
        f"mean of the last 12 monthly peaks, each counted at least {FLOOR_W} W. A month counts "
        "with our peak where our quarter-hours cover it whole, else with the meter's own "
        "(column source).",
    )
    add_config_argument(parser)
    parser.add_argument("--month", type=month_argument, metavar="YYYY-MM", help="only this month")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_or_exit(args.config)
    conn = open_store_or_exit(config, readonly=True)
    try:
        rows = peak_rows(
            conn, config, ZoneInfo(config.gateway.timezone), [args.month] if args.month else None
        )
    finally:
        conn.close()
    if args.format == "json":
        json.dump([row.as_json() for row in rows], sys.stdout, indent=1)
        print()
        return 0
    connection = config.connection
    print(
        f"connection {connection.ean}: {connection.capacity_kva} kVA, "
        f"capacity band {connection.band}"
    )
    if not rows:
        print("no quarter-hours recorded yet")
        return 0
    print(_table(rows))
    if any(row.mismatch for row in rows):
        print(f"MISMATCH: our peak and the meter's differ by more than {PEAK_TOLERANCE_W} W")
    return 0


def _w(value: int | None) -> str:
    return "-" if value is None else str(value)


def _table(rows: list[PeakRow]) -> str:
    header = ("allocation point", "month", "peak W", "peak start (UTC)", "meter W",
              "counted W", "source", "12-month W", "coverage", "")  # fmt: skip
    lines = [header]
    for row in rows:
        start = iso_utc(row.peak_start_utc) if row.peak_start_utc is not None else "-"
        lines.append(
            (
                row.ap, row.month, _w(row.peak_w), start, _w(row.meter_peak_w),
                _w(row.counted_w), row.source or "-", _w(row.rolling_12m_w),
                f"{row.known}/{row.intervals}",
                "MISMATCH" if row.mismatch else "",
            )
        )  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
