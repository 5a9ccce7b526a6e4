"""`edge-agent plot`: a day's quarter-hours or a month's days as a picture (PNG, SVG or PDF).

Strategy: matplotlib is an optional extra (`pip install 'p1edge[plot]'`) so the Pi install stays
small; it is imported only here, with the Agg backend (no display). Pictures have a fixed size
in pixels (`WIDTH_PX` × `PANEL_PX` per allocation point + `MARGIN_PX`), so scripts can rely on it;
the format follows the suffix of `--out`. One panel per allocation point, titled by its name.

- `--day`: the average import power of every quarter-hour as bars up and export as bars down
  (W); quarter-hours without data are grey bands (not zero bars); the month's peak so far as a
  dashed line, only on points that import.
- `--month`: each day's imported and exported energy (kWh) on a date axis, days not fully known
  hatched, the day's highest quarter-hour (W, right axis) as dots and the month's peak as a line.
Legends sit outside the plotting area, so they never cover a bar or the peak line. A range
without any data is an error, not an empty picture.
"""

from __future__ import annotations

import argparse
import importlib
from datetime import date, datetime, time, timedelta
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
from edge.local.report import QuarterSeries, day_series, month_days, peak_rows
from edge.registers.capacity import month_of

DPI: Final = 100
WIDTH_PX: Final = 1200
PANEL_PX: Final = 300
MARGIN_PX: Final = 100
FORMATS: Final = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
INSTALL_HINT: Final = "plotting needs matplotlib: pip install 'p1edge[plot]' (or matplotlib)"
HALF_DAY: Final = timedelta(hours=12)
LEGEND: Final = {"loc": "upper left", "bbox_to_anchor": (1.06, 1.0), "fontsize": "small"}
PRODUCER_RATIO: Final = 10  # a point exporting 10x what it imports shows no import peak


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw a day's quarter-hours or a month's days (PNG, SVG or PDF)",
        description=f"Writes a picture {WIDTH_PX} px wide and {PANEL_PX} px per allocation point "
        f"(+{MARGIN_PX}); the format follows the suffix of --out (.png, .svg, .pdf). Needs the "
        "plot extra: pip install 'p1edge[plot]'.",
    )
    add_config_argument(parser)
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--day", type=day_argument, metavar="YYYY-MM-DD", help="quarter-hours of a day"
    )
    when.add_argument("--month", type=month_argument, metavar="YYYY-MM", help="the days of a month")
    parser.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="FILE.png, FILE.svg or FILE.pdf"
    )
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
    fmt = FORMATS.get(args.out.suffix.lower())
    if fmt is None:
        fail(f"--out {args.out}: the suffix decides the format: {', '.join(FORMATS)}")
    config = config_or_exit(args.config)
    plt = pyplot()  # before anything else: without the extra, say how to install it
    conn = open_store_or_exit(config, readonly=True)
    tz = ZoneInfo(config.gateway.timezone)
    month = args.month or month_of(int(_noon(args.day, tz)), tz)
    if args.day is not None:
        data: dict[str, Any] = {p.ean: day_series(conn, p.ean, args.day, tz) for p in config.points}
        empty = all(all(w is None for w in s.import_w) for s in data.values())
    else:
        data = {p.ean: month_days(conn, p.ean, month, tz) for p in config.points}
        empty = all(all(d.known == 0 for d in days) for days in data.values())
    if empty:
        conn.close()
        fail(f"no data for {args.day or month} in {config.gateway.data_dir}: nothing to draw")
    peaks = {row.ap: row.peak_w for row in peak_rows(conn, config, tz, [month])}
    conn.close()
    count = len(config.points)
    size = (WIDTH_PX / DPI, (PANEL_PX * count + MARGIN_PX) / DPI)
    figure, axes = plt.subplots(
        count, 1, figsize=size, dpi=DPI, squeeze=False, layout="constrained"
    )
    try:
        for axis, point in zip(axes[:, 0], config.points, strict=True):
            title = f"{point.name} ({point.ean})" if point.name else point.ean
            if args.day is not None:
                _day_panel(axis, data[point.ean], peaks.get(point.ean), tz)
            else:
                _month_panel(axis, data[point.ean], peaks.get(point.ean))
            axis.set_title(title, fontsize="medium", loc="left")
        figure.suptitle(_title(config, args.day, month))
        figure.savefig(args.out, dpi=DPI, format=fmt)
    except OSError as exc:
        fail(f"cannot write {args.out}: {exc.strerror or exc}")
    finally:
        plt.close(figure)
    print(f"wrote {args.out}")
    return 0


def _noon(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, 12, tzinfo=tz).timestamp()


def _title(config: Config, day: date | None, month: str) -> str:
    what = f"quarter-hours of {day.isoformat()}" if day is not None else f"days of {month}"
    return f"{config.gateway.id}: {what} ({config.gateway.timezone})"


def _day_panel(axis: Any, series: QuarterSeries, peak_w: int | None, tz: ZoneInfo) -> None:
    hours = [(t - series.starts[0]) / 3600 for t in series.starts]
    known = [i for i, w in enumerate(series.import_w) if w is not None]
    axis.bar([hours[i] for i in known], [series.import_w[i] or 0 for i in known], width=0.24,
             align="edge", color="tab:red", label="import W")  # fmt: skip
    axis.bar([hours[i] for i in known], [-(series.export_w[i] or 0) for i in known], width=0.24,
             align="edge", color="tab:green", label="export W")  # fmt: skip
    missing = [hours[i] for i, w in enumerate(series.import_w) if w is None]
    for n, start in enumerate(missing):  # a band, not a zero bar: no data is not no power
        axis.axvspan(start, start + 0.25, color="0.85", zorder=0,
                     label="no data" if n == 0 else None)  # fmt: skip
    imports = _import_matters(
        sum(series.import_w[i] or 0 for i in known), sum(series.export_w[i] or 0 for i in known)
    )
    if peak_w is not None and imports:
        axis.axhline(peak_w, color="black", linestyle="--", label=f"month peak {peak_w} W")
    axis.axhline(0, color="0.3", linewidth=0.6)
    if peak_w is not None and imports:
        axis.set_ylim(top=peak_w * 1.15)  # the peak line clear of the frame
    axis.set_xlim(0, len(hours) / 4)
    axis.set_xlabel("hours since local midnight")
    axis.set_ylabel("W")
    axis.legend(**LEGEND)


def _import_matters(imported: float, exported: float) -> bool:
    """Whether the import peak means anything: not on a point that mostly feeds in (a PV
    installation's few watts of standby would draw a peak line and an axis of 4 W)."""
    return imported > 0 and imported * PRODUCER_RATIO >= exported


def _month_panel(axis: Any, days: list[Any], peak_w: int | None) -> None:
    dates = [d.day for d in days]
    partial = ["////" if 0 < d.known < d.quarters else None for d in days]
    imported = [d.import_wh / 1000 if d.known else 0 for d in days]
    exported = [-d.export_wh / 1000 if d.known else 0 for d in days]
    bars_in = axis.bar(dates, imported, color="tab:red", label="import kWh")
    bars_out = axis.bar(dates, exported, color="tab:green", label="export kWh")
    for bar_in, bar_out, hatch in zip(bars_in, bars_out, partial, strict=True):
        if hatch is not None:
            bar_in.set_hatch(hatch)
            bar_out.set_hatch(hatch)
    for n, d in enumerate(d for d in days if d.known == 0):  # noon to noon around the bar
        middle = datetime.combine(d.day, time())
        axis.axvspan(middle - HALF_DAY, middle + HALF_DAY, color="0.85", zorder=0,
                     label="no data" if n == 0 else None)  # fmt: skip
    if any(partial):  # a legend entry of its own: white with the hatch
        patch = importlib.import_module("matplotlib.patches").Patch
        proxy = patch(facecolor="white", edgecolor="black", hatch="////",
                      label="partial day (quarter-hours missing)")  # fmt: skip
    else:
        proxy = None
    axis.axhline(0, color="0.3", linewidth=0.6)
    axis.set_ylabel("kWh")
    first, last = datetime.combine(dates[0], time()), datetime.combine(dates[-1], time())
    axis.set_xlim(first - 1.2 * HALF_DAY, last + 1.2 * HALF_DAY)  # no tick of the next month
    dates_module = importlib.import_module("matplotlib.dates")
    axis.xaxis.set_major_locator(dates_module.DayLocator(bymonthday=[1, 8, 15, 22, 29]))
    axis.xaxis.set_major_formatter(dates_module.DateFormatter("%a %d %b"))
    known = [d for d in days if d.known]
    if not _import_matters(sum(d.import_wh for d in known), sum(d.export_wh for d in known)):
        peak_w = None
    handles, labels = axis.get_legend_handles_labels()
    more: list[Any] = []
    more_labels: list[str] = []
    if peak_w is not None:  # a W axis only where there is a power to read on it
        peaks = [(d.day, d.peak_w) for d in days if d.peak_w]
        right = axis.twinx()
        right.plot([n for n, _ in peaks], [w for _, w in peaks], "o", color="black",
                   markersize=3, label="day's highest quarter W")  # fmt: skip
        right.axhline(peak_w, color="black", linestyle="--", label=f"month peak {peak_w} W")
        top = max([w for _, w in peaks] + [peak_w])
        right.set_ylim(0, top * 1.15 if top else 1)  # room above the dots and the peak line
        right.set_ylabel("W")
        more, more_labels = right.get_legend_handles_labels()
    if proxy is not None:
        handles, labels = [*handles, proxy], [*labels, proxy.get_label()]
    axis.legend(handles + more, labels + more_labels, **LEGEND)
