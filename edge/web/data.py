"""What the page shows, as plain data (the JSON API is exactly this; the HTML renders it).

Strategy: every view is a function of the configuration, a read-only store connection, the
agent's status snapshot and "now" — no request, no HTML. Only configured allocation points are
ever read (a point's EAN comes from the configuration, never from the request alone), and the
figures come from the same functions as the commands: `export`'s interval rows for the day,
`peaks`'s rows for the month, the policy's `point_status` and the consumer log for privacy.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any, Final

from edge.config import Config
from edge.export import BOUNDARY_COLUMNS, INTERVAL_COLUMNS, boundary_rows, interval_rows
from edge.local.report import DaySummary, month_days, peak_rows
from edge.policy import LogEntry, point_status
from edge.registers import STEP, day_range, iso_utc
from edge.registers.capacity import (
    MonthlyPeak,
    month_of,
    month_range,
    monthly_peaks,
    quarter_powers,
)
from edge.status import STALE_S, STATUS_HEARTBEAT_S
from edge.store.policy import load_state, read_log
from edge.store.registers import boundaries, last_boundary

# a connected line without a telegram this long is "silent"; status.json carries the last
# telegram's time at its heartbeat (a minute), so the view allows for that age too
SILENT_AFTER_S: Final = 60 + STATUS_HEARTBEAT_S
TARIFFS: Final = ("import_t1", "import_t2", "export_t1", "export_t2")
__all__ = ["BOUNDARY_COLUMNS", "INTERVAL_COLUMNS", "LOG_COLUMNS", "View"]
LOG_COLUMNS: Final = ("at", "kind", "ap", "detail", "to")  # `edge-agent log --json`'s keys


@dataclass(frozen=True, slots=True)
class View:
    """Everything a view reads: configuration, store (read-only), status snapshot, clocks."""

    config: Config
    tz: tzinfo
    conn: sqlite3.Connection
    status: dict[str, Any]
    wall: float  # the gateway's clock (ages of telegrams)
    # (ap, month, newest boundary) -> the month's peak: the Now view is polled every few
    # seconds and the month only changes with a new boundary (owned by the app, shared)
    peaks: dict[tuple[str, str, int | None], MonthlyPeak] = field(default_factory=dict)

    @property
    def now(self) -> int:
        """The agent's "now" (meter time in replays), else the newest stored boundary."""
        status_now = _parse_utc(self.status.get("now_utc"))
        if status_now is not None:
            return int(status_now)
        newest = [last_boundary(self.conn, p.ean) for p in self.config.points]
        known = [t for t in newest if t is not None]
        return max(known) if known else int(self.wall)

    def today(self) -> date:
        return datetime.fromtimestamp(self.now, self.tz).date()

    def point_names(self) -> list[dict[str, Any]]:
        return [{"ap": p.ean, "name": p.name, "role": str(p.role)} for p in self.config.points]


def _parse_utc(text: object) -> float | None:
    """A status time ("YYYY-MM-DDTHH:MM:SSZ"); None for anything else (a damaged file)."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def running(view: View) -> bool:
    """The agent wrote its status recently and says it runs (a crash leaves "running")."""
    written = _parse_utc(view.status.get("written_utc"))
    if written is None or not view.status.get("running"):
        return False
    return view.wall - written < STALE_S  # status.json: on change + heartbeat


def meter_state(view: View, ap: str) -> str:
    """`reading`, `silent` (line up, no telegram for a minute) or `unplugged` (no line)."""
    if not running(view):
        return "agent stopped"
    sources = view.status.get("sources")
    listed = [s for s in sources if isinstance(s, dict)] if isinstance(sources, list) else []
    source = next((s for s in listed if s.get("name") == ap), None)
    if source is None:  # an M-Bus point rides on its carrier's line
        point = view.config.point(ap)
        carrier = getattr(point.source, "ean", None)
        return meter_state(view, carrier) if carrier and carrier != ap else "unplugged"
    if source.get("state") != "connected":
        return "unplugged"
    received = _parse_utc(source.get("last_received_utc"))
    if received is None or view.wall - received > SILENT_AFTER_S:
        return "silent"
    return "reading"


def now_view(view: View) -> dict[str, Any]:
    """Live power per meter, the running quarter, the month's peak so far, each meter's state."""
    live = view.status.get("live")
    live = live if isinstance(live, dict) else {}
    points = []
    month = month_of(view.now, view.tz)
    for point in view.config.points:
        values = live.get(point.ean)
        values = values if isinstance(values, dict) else {}
        peak = month_peak(view, point.ean, month)
        points.append(
            {
                "ap": point.ean,
                "name": point.name,
                "role": str(point.role),
                "state": meter_state(view, point.ean),
                "time": values.get("time"),
                "power_import_w": values.get("power_import_w"),
                "power_export_w": values.get("power_export_w"),
                "quarter_start_utc": values.get("quarter_start_utc"),
                "quarter_average_w": values.get("quarter_average_w"),
                "quarter_projected_w": values.get("quarter_projected_w"),
                "peak_warning": bool(values.get("peak_warning")),
                "month": month,
                "month_peak_w": _max(peak.peak_w, values.get("month_peak_w")),
                "month_peak_start_utc": iso_utc(peak.start_utc) if peak.start_utc else None,
            }
        )
    return {
        "gateway": view.config.gateway.id,
        "running": running(view),
        "now_utc": iso_utc(view.now),
        "points": points,
    }


def month_peak(view: View, ap: str, month: str) -> MonthlyPeak:
    """The month's peak so far from the settled boundaries, recomputed only after a new one."""
    key = (ap, month, last_boundary(view.conn, ap))
    found = view.peaks.get(key)
    if found is None:
        start, end = month_range(month, view.tz)
        powers = quarter_powers(boundaries(view.conn, ap, start, end))
        found = monthly_peaks(powers, [month], view.tz)[0]
        if len(view.peaks) > 64:
            view.peaks.clear()
        view.peaks[key] = found
    return found


def _max(a: int | None, b: object) -> int | None:
    known = [v for v in (a, b) if isinstance(v, int)]
    return max(known) if known else None


def day_view(view: View, ap: str, day: date) -> dict[str, Any]:
    """Every quarter-hour of a local day (missing ones too) and the kWh per tariff."""
    start, end = day_range(day, view.tz)
    rows = {row["start_utc"]: row for row in interval_rows(view.conn, view.config, ap, start, end)}
    quarters = []
    for t in range(start, end, STEP):
        row = rows.get(iso_utc(t))
        quarters.append(
            {
                "start_utc": iso_utc(t),
                "local": datetime.fromtimestamp(t, view.tz).strftime("%H:%M"),
                "import_wh": row["import_wh"] if row else None,
                "export_wh": row["export_wh"] if row else None,
                "offtake_wh": row["offtake_wh"] if row else None,
                "injection_wh": row["injection_wh"] if row else None,
                "max_power_w": row["max_power_w"] if row else None,
                "status": row["status"] if row else "missing",
                "flags": row["flags"] if row else [],
            }
        )
    return {
        "ap": ap,
        "day": day.isoformat(),
        "previous": (day - timedelta(days=1)).isoformat(),
        "next": (day + timedelta(days=1)).isoformat(),
        "today": view.today().isoformat(),
        "counts": {
            s: sum(q["status"] == s for q in quarters)
            for s in ("measured", "interpolated", "missing")
        },
        "tariff_wh": tariff_totals(view.conn, ap, start, end),
        "quarters": quarters,
    }


def tariff_totals(conn: sqlite3.Connection, ap: str, start: int, end: int) -> dict[str, int]:
    """Wh per register over the known quarter-hours (consecutive boundaries of one series)."""
    totals = dict.fromkeys(TARIFFS, 0)
    for before, after in pairwise(boundaries(conn, ap, start, end)):
        if after.utc - before.utc != STEP or before.series != after.series:
            continue
        if before.registers is None or after.registers is None:
            continue
        for name, a, b in zip(TARIFFS, before.registers, after.registers, strict=True):
            totals[name] += b - a
    return totals


def month_view(view: View, ap: str, month: str) -> dict[str, Any]:
    """Daily totals, the monthly peak with its quarter, the 12-month capacity figure and band."""
    days = month_days(view.conn, ap, month, view.tz)
    # `peaks`'s rows, for this point only (each point reads 12 months of boundaries)
    only = replace(view.config, points=(view.config.point(ap),))
    row = peak_rows(view.conn, only, view.tz, [month])[0]
    connection = view.config.connection
    start = row.peak_start_utc
    return {
        "ap": ap,
        "month": month,
        "days": [_day_total(d) for d in days],
        "peak_w": row.peak_w,
        "peak_start_utc": iso_utc(start) if start is not None else None,
        "peak_local": datetime.fromtimestamp(start, view.tz).strftime("%Y-%m-%d %H:%M")
        if start is not None
        else None,
        "meter_peak_w": row.meter_peak_w,
        "rolling_12m_w": row.rolling_12m_w,
        "coverage": [row.known, row.intervals],
        "capacity_kva": connection.capacity_kva,
        "band": str(connection.band),
        "capacity_tariff": view.config.gateway.timezone == "Europe/Brussels",
    }


def _day_total(day: DaySummary) -> dict[str, Any]:
    """A day of the month; a day without one known quarter-hour has no totals (not 0)."""
    known = day.peak_w is not None
    return {
        "day": day.day.isoformat(),
        "import_wh": day.import_wh if known else None,
        "export_wh": day.export_wh if known else None,
        "peak_w": day.peak_w,
    }


def privacy_view(view: View, recipient: str) -> dict[str, Any]:
    """Per point regime and consent (who set it, when) and the consumer log, newest first."""
    state = load_state(view.conn)
    policy = point_status(state, view.config.policy)
    points = []
    for point in view.config.points:
        history = state.point(point.ean).consent
        last = history[-1] if history else None
        points.append(
            {
                "ap": point.ean,
                "name": point.name,
                "role": str(point.role),
                **policy[point.ean],
                "set_by": (last.by + (f" ({last.ref})" if last.ref else "")) if last else None,
                "set_at": last.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if last else None,
            }
        )
    return {
        "points": points,
        "log": [log_row(e, view.tz, recipient) for e in reversed(log_entries(view))],
    }


def log_entries(view: View) -> list[LogEntry]:
    """The consumer log of the configured points only, in append order."""
    known = {p.ean for p in view.config.points}
    return [e for e in read_log(view.conn) if e.ap in known]


def log_row(entry: LogEntry, tz: tzinfo, recipient: str) -> dict[str, Any]:
    """One log line for the table: local time, what, which days, to whom."""
    local = entry.at.astimezone(tz)
    _, _, days = entry.detail.partition(": ")
    return {
        **entry.to_json(),
        "local": f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}",
        "days": days if entry.kind == "release" else "",
        "recipient": recipient if entry.to == "grid-operator" else entry.to,
    }


def export_rows(
    view: View, ap: str, day: date, intervals: bool
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The rows and columns `edge-agent export` prints for one day of `ap`."""
    start, end = day_range(day, view.tz)
    if intervals:
        return interval_rows(view.conn, view.config, ap, start, end), INTERVAL_COLUMNS
    return boundary_rows(view.conn, ap, start, end), BOUNDARY_COLUMNS
