"""`edge-agent export`: boundary readings or intervals of local days, as CSV or JSON.

Rows are read and written day by day (CSV streams), with a progress bar on a terminal for long
ranges."""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from edge.commands.common import (
    add_config_argument,
    config_or_exit,
    day_argument,
    open_store_or_exit,
)
from edge.config import Config
from edge.export import BOUNDARY_COLUMNS, INTERVAL_COLUMNS, boundary_rows, interval_rows, utc_range
from edge.progress import ProgressBar

PROGRESS_DAYS: Final = 7  # a bar on a terminal for more days than this


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export quarter-hour registers of local days",
        description="One row per boundary (default) or per interval (--intervals); "
        "--from/--to are local days, inclusive.",
    )
    add_config_argument(parser)
    parser.add_argument("--ap", required=True, metavar="EAN", help="allocation point")
    parser.add_argument(
        "--from", dest="first", required=True, type=day_argument, metavar="YYYY-MM-DD"
    )
    parser.add_argument("--to", dest="last", required=True, type=day_argument, metavar="YYYY-MM-DD")
    parser.add_argument("--intervals", action="store_true", help="one row per interval")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_or_exit(args.config)
    if args.ap not in {p.ean for p in config.points}:
        known = ", ".join(p.ean for p in config.points)
        print(f"edge-agent export: --ap {args.ap} is not configured ({known})", file=sys.stderr)
        return 2
    if args.last < args.first:
        print("edge-agent export: --to is before --from", file=sys.stderr)
        return 2
    conn = open_store_or_exit(config, readonly=True)
    tz = ZoneInfo(config.gateway.timezone)
    days = [args.first + timedelta(days=k) for k in range((args.last - args.first).days + 1)]
    bar = None
    if len(days) > PROGRESS_DAYS and sys.stderr.isatty():  # long ranges take a while
        bar = ProgressBar(len(days), label="export", unit="days")
    columns = INTERVAL_COLUMNS if args.intervals else BOUNDARY_COLUMNS
    chunks = _rows_by_day(conn, config, args.ap, days, tz, intervals=args.intervals)
    if args.format == "json":
        rows = []
        for done, chunk in enumerate(chunks, 1):
            rows += chunk
            if bar is not None:
                bar.update(done)
        if bar is not None:
            bar.close()
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for done, chunk in enumerate(chunks, 1):  # streamed: a year never sits in memory
        for row in chunk:
            if "flags" in row:
                row = {**row, "flags": " ".join(row["flags"])}
            writer.writerow(row)
        if bar is not None:
            bar.update(done)
    if bar is not None:
        bar.close()
    return 0


def _rows_by_day(
    conn: sqlite3.Connection,
    config: Config,
    ap: str,
    days: list[date],
    tz: ZoneInfo,
    *,
    intervals: bool,
) -> Iterator[list[dict[str, Any]]]:
    """The rows day by day; a boundary shared by two days (midnight) comes once, with the
    later day, and the range's final midnight with the last day."""
    for k, day in enumerate(days):
        start, end = utc_range(day, day, tz)
        if intervals:
            yield interval_rows(conn, config, ap, start, end)
        else:
            last = end if k == len(days) - 1 else end - 1
            yield boundary_rows(conn, ap, start, last)
