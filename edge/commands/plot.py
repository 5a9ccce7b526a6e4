"""`edge-agent plot`: a day's quarter-hours or a month's days as a PNG picture.

Strategy: matplotlib is an optional extra (`pip install 'p1edge[plot]'`) so the Pi install stays
small; it is imported only here, with the Agg backend (no display). Pictures have a fixed size
in pixels (`WIDTH_PX` × `PANEL_PX` per allocation point + `MARGIN_PX`), so scripts can rely on it.

- `--day`: per allocation point, the average import power of every quarter-hour as bars up and
  export as bars down (W), and the month's peak so far as a horizontal line.
- `--month`: per allocation point, each day's imported and exported energy as bars (kWh) and
  the day's highest quarter-hour (W, right axis) as dots, with the month's peak as a line.
"""

from __future__ import annotations

import argparse
import importlib
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from edge.commands.common import (
    add_config_argument,
    config_or_exit,
    day_argument,
    fail,
    month_argument,
    open_store_or_exit,
)
from edge.config import Config
from edge.local.report import day_series, month_days, peak_rows
from edge.registers.capacity import month_of

DPI: Final = 100
WIDTH_PX: Final = 1200
PANEL_PX: Final = 300
MARGIN_PX: Final = 100
INSTALL_HINT: Final = "plotting needs matplotlib: pip install 'p1edge[plot]' (or matplotlib)"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw a day's quarter-hours or a month's days as a PNG",
        description=f"Writes a PNG of {WIDTH_PX} px wide and {PANEL_PX} px per allocation point "
        f"(+{MARGIN_PX}). Needs the plot extra: pip install 'p1edge[plot]'.",
    )
    add_config_argument(parser)
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--day", type=day_argument, metavar="YYYY-MM-DD", help="quarter-hours of a day"
    )
    when.add_argument("--month", type=month_argument, metavar="YYYY-MM", help="the days of a month")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE.png")
    parser.set_defaults(func=run)


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, or exit 2 with how to install it."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        fail(INSTALL_HINT)
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def run(args: argparse.Namespace) -> int:
    config = config_or_exit(args.config)
    plt = pyplot()
    conn = open_store_or_exit(config, readonly=True)
    tz = ZoneInfo(config.gateway.timezone)
    count = len(config.points)
    size = (WIDTH_PX / DPI, (PANEL_PX * count + MARGIN_PX) / DPI)
    figure, axes = plt.subplots(count, 1, figsize=size, dpi=DPI, squeeze=False)
    try:
        month = args.month or month_of(int(_noon(args.day, tz)), tz)
        peaks = {row.ap: row.peak_w for row in peak_rows(conn, config, tz, [month])}
        for axis, point in zip(axes[:, 0], config.points, strict=True):
            if args.day is not None:
                _day_panel(axis, conn, point.ean, args.day, tz, peaks.get(point.ean))
            else:
                _month_panel(axis, conn, point.ean, month, tz, peaks.get(point.ean))
        figure.suptitle(_title(config, args.day, month))
        figure.subplots_adjust(left=0.07, right=0.93, top=1 - 50 / size[1] / DPI, hspace=0.45)
        figure.savefig(args.out, dpi=DPI, format="png")
    except OSError as exc:
        fail(f"cannot write {args.out}: {exc.strerror or exc}")
    finally:
        plt.close(figure)
        conn.close()
    print(f"wrote {args.out}")
    return 0


def _noon(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, 12, tzinfo=tz).timestamp()


def _title(config: Config, day: date | None, month: str) -> str:
    what = f"quarter-hours of {day.isoformat()}" if day is not None else f"days of {month}"
    return f"{config.gateway.id}: {what} ({config.gateway.timezone})"


def _day_panel(axis: Any, conn: Any, ap: str, day: date, tz: ZoneInfo, peak_w: int | None) -> None:
    series = day_series(conn, ap, day, tz)
    hours = [(t - series.starts[0]) / 3600 for t in series.starts]
    axis.bar(hours, [w or 0 for w in series.import_w], width=0.24, align="edge",
             color="tab:red", label="import W")  # fmt: skip
    axis.bar(hours, [-(w or 0) for w in series.export_w], width=0.24, align="edge",
             color="tab:green", label="export W")  # fmt: skip
    if peak_w is not None:
        axis.axhline(peak_w, color="black", linestyle="--", label=f"month peak {peak_w} W")
    axis.set_xlim(0, len(hours) / 4)
    axis.set_xlabel("hours since local midnight")
    axis.set_ylabel("W")
    axis.set_title(ap, fontsize="medium")
    axis.legend(loc="upper left", fontsize="small")


def _month_panel(
    axis: Any, conn: Any, ap: str, month: str, tz: ZoneInfo, peak_w: int | None
) -> None:
    days = month_days(conn, ap, month, tz)
    numbers = [d.day.day for d in days]
    axis.bar(numbers, [d.import_wh / 1000 for d in days], color="tab:red", label="import kWh")
    axis.bar(numbers, [-d.export_wh / 1000 for d in days], color="tab:green", label="export kWh")
    axis.set_xlabel("day")
    axis.set_ylabel("kWh")
    axis.set_title(ap, fontsize="medium")
    axis.legend(loc="upper left", fontsize="small")
    right = axis.twinx()
    peaks = [(d.day.day, d.peak_w) for d in days if d.peak_w is not None]
    right.plot([n for n, _ in peaks], [w for _, w in peaks], "o", color="black", markersize=3,
               label="day's highest quarter W")  # fmt: skip
    if peak_w is not None:
        right.axhline(peak_w, color="black", linestyle="--", label=f"month peak {peak_w} W")
    right.set_ylim(bottom=0)
    right.set_ylabel("W")
    right.legend(loc="upper right", fontsize="small")
