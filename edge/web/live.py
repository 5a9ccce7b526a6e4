"""Live values for the customer's page: power now, the running quarter, the month's peak.

Strategy: the agent's hooks call in on its main thread. Per batch of telegrams only the newest
one is looked at (a live line hands over one telegram per batch, so nothing is lost there; a
replay's 4 MiB batches are history, not "now"), so the page costs the hot path one dictionary
update per batch. The quarter's average and the peak warning come from the same pure machine
the home broker uses (`PeakWarning`), the month's peak from the settled boundaries
(`MonthPeakTracker`, seeded from the store). The values reach the page through the one status
model: `status.json`'s `live` section (`snapshot`), which `edge-agent web` also reads.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from edge.config import Config
from edge.ingest import registers4
from edge.p1 import Telegram
from edge.registers import Closed
from edge.registers.capacity import (
    MonthPeakTracker,
    month_of,
    month_range,
    monthly_peaks,
    quarter_powers,
)
from edge.registers.peak_warning import PeakWarning
from edge.registers.timegrid import iso_utc
from edge.store.registers import boundaries, last_boundary

if TYPE_CHECKING:
    from edge.agent import Agent

DEFAULT_MARGIN = 0.1  # `local.peak_warning_margin`'s default, when there is no [local]


def seeded_tracker(conn: sqlite3.Connection, ap: str, tz: tzinfo) -> MonthPeakTracker:
    """A month-peak tracker that continues the month the store ends in."""
    tracker = MonthPeakTracker(tz)
    last = last_boundary(conn, ap)
    if last is not None:
        month = month_of(last - 1, tz)
        start, end = month_range(month, tz)
        found = boundaries(conn, ap, start, end)
        tracker.seed(
            monthly_peaks(quarter_powers(found), [month], tz)[0], found[-1] if found else None
        )
    return tracker


class LiveTracker:
    """The newest live values of every point with its own source."""

    def __init__(self, config: Config, conn: sqlite3.Connection, tz: tzinfo) -> None:
        margin = config.local.peak_warning_margin if config.local is not None else DEFAULT_MARGIN
        self.tz = tz
        self.warnings = {p.ean: PeakWarning(margin) for p in config.points}
        self.trackers = {p.ean: seeded_tracker(conn, p.ean, tz) for p in config.points}
        self._lock = threading.Lock()
        self._live: dict[str, dict[str, Any]] = {}

    def on_telegrams(self, source: str, telegrams: list[Telegram]) -> None:
        """Hook: the newest telegram of a batch becomes the point's live state."""
        warning = self.warnings.get(source)
        newest = telegrams[-1] if telegrams else None
        if warning is None or newest is None or newest.timestamp is None:
            return
        t = int(newest.timestamp.timestamp())
        tracker = self.trackers[source]
        month_peak = tracker.peak_in(month_of(t, self.tz))
        values: dict[str, Any] = {
            "time": iso_utc(t),
            "power_import_w": newest.power_import_w,
            "power_export_w": newest.power_export_w,
            "month_peak_w": month_peak,
            "month_peak_start_utc": iso_utc(tracker.start_utc)
            if month_peak is not None and tracker.start_utc is not None
            else None,
        }
        regs = registers4(newest)
        if regs is not None:
            state = warning.observe(
                t,
                regs[0] + regs[1],
                power_w=newest.power_import_w,
                demand_w=newest.average_demand_w,
                month_peak_w=month_peak,
            )
            values.update(
                quarter_start_utc=iso_utc(state.quarter_start),
                quarter_average_w=state.average_w,
                quarter_projected_w=state.projected_w,
                peak_warning=state.active,
                peak_threshold_w=state.threshold_w,
            )
        with self._lock:
            self._live[source] = values

    def after_commit(self, closed: list[Closed], _now: int) -> None:
        """Hook: settled boundaries move the month's peak."""
        for item in closed:
            tracker = self.trackers.get(item.ap)
            if tracker is not None:
                tracker.observe(item.boundary)

    def on_tick(self, now: int) -> None:
        """Hook: a quarter that ended without telegrams clears its warning."""
        if not now:
            return
        with self._lock:
            for ap, warning in self.warnings.items():
                state = warning.tick(now)
                if ap in self._live and state is not None:
                    self._live[ap] = {**self._live[ap], "peak_warning": state.active}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per point its live values (plain JSON types), for `status.json`."""
        with self._lock:
            return dict(self._live)


def attach_live(agent: Agent) -> LiveTracker:
    """Feed a tracker from the agent's hooks and publish it as status.json's `live` section."""
    tracker = LiveTracker(agent.config, agent.conn, agent.tz)
    agent.hooks.on_telegrams.append(tracker.on_telegrams)
    agent.hooks.after_commit.append(tracker.after_commit)
    agent.hooks.on_tick.append(tracker.on_tick)
    agent.status_parts["live"] = tracker.snapshot
    return tracker
