"""`edge-agent export`: boundary readings or intervals of local days, as CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from zoneinfo import ZoneInfo

from edge.commands.common import (
    add_config_argument,
    config_or_exit,
    day_argument,
    open_store_or_exit,
)
from edge.export import BOUNDARY_COLUMNS, INTERVAL_COLUMNS, boundary_rows, interval_rows, utc_range


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
    start, end = utc_range(args.first, args.last, ZoneInfo(config.gateway.timezone))
    columns: tuple[str, ...]
    if args.intervals:
        rows, columns = interval_rows(conn, config, args.ap, start, end), INTERVAL_COLUMNS
    else:
        rows, columns = boundary_rows(conn, args.ap, start, end), BOUNDARY_COLUMNS
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        if "flags" in row:
            row = {**row, "flags": " ".join(row["flags"])}
        writer.writerow(row)
    return 0
