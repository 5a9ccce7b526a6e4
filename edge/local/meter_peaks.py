"""Recording the meter's own monthly peaks (Belgian `1-0:1.6.0`, `0-0:98.1.0`) from telegrams.

Strategy: every telegram repeats the same peak lines until a quarter-hour sets a new peak or a
month ends, so the recorder compares the raw text of the two lines with what it saw last and
parses only on a change; then it writes only the months whose figure differs from what it wrote
before (loaded from the store at start). A second-by-second meter thus costs two string
comparisons per telegram and a few commits per month. It runs whether or not a local broker is
configured: `edge-agent peaks` shows the cross-check on any Belgian meter.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from edge.p1 import Telegram
from edge.registers.capacity import history_month, month_of
from edge.store.peaks import MeterPeak, meter_peaks, save_meter_peaks

if TYPE_CHECKING:
    from edge.agent import Agent

LOG: Final = logging.getLogger("edge.local.peaks")
CURRENT: Final = "1-0:1.6.0"
HISTORY: Final = "0-0:98.1.0"


def peaks_of(ap: str, telegram: Telegram, tz: tzinfo) -> dict[str, MeterPeak]:
    """The monthly peaks a telegram reports, by month (a closed month's history entry wins
    over the running month's figure if both name the same month)."""
    found: dict[str, MeterPeak] = {}
    current = telegram.month_peak
    if current is not None and telegram.timestamp is not None:
        when, watts = current
        month = month_of(int(telegram.timestamp.timestamp()), tz)
        if watts is not None:
            found[month] = MeterPeak(ap, month, watts, _epoch(when))
    for entry in telegram.month_peaks or ():
        if entry.value_w is None:
            continue
        reset, peak = _epoch(entry.month_start), _epoch(entry.peak_time)
        closed = history_month(reset, peak, tz)
        if closed is not None:
            found[closed] = MeterPeak(ap, closed, entry.value_w, peak)
    return found


def _epoch(moment: object) -> int | None:
    timestamp = getattr(moment, "timestamp", None)
    return int(timestamp()) if callable(timestamp) else None


class MeterPeakRecorder:
    """Keeps the `meter_peak` table in step with what the meters report."""

    def __init__(self, conn: sqlite3.Connection, tz: tzinfo) -> None:
        self.conn = conn
        self.tz = tz
        self._written = {(p.ap, p.month): p for p in meter_peaks(conn)}
        self._raw: dict[str, tuple[str | None, str | None]] = {}
        self.current: dict[str, MeterPeak] = {}  # the running month's figure per point
        self.writes = 0

    def on_telegrams(self, ap: str, telegrams: Sequence[Telegram]) -> None:
        """Agent hook: look at the peak lines of a batch's newest telegram, store what changed.

        The meter's peaks move at most once a quarter-hour and its newest telegram carries all
        of them (this month's, and the closed months in 0-0:98.1.0), so one look per batch
        keeps the per-telegram path free of this work.
        """
        if not telegrams:
            return
        telegram = telegrams[-1]
        raw = (telegram.raw(CURRENT), telegram.raw(HISTORY))
        if raw == (None, None) or raw == self._raw.get(ap):
            return
        self._raw[ap] = raw
        self._store(ap, telegram)

    def _store(self, ap: str, telegram: Telegram) -> None:
        found = peaks_of(ap, telegram, self.tz)
        if telegram.timestamp is not None:
            month = month_of(int(telegram.timestamp.timestamp()), self.tz)
            if month in found:
                self.current[ap] = found[month]
        changed = [p for key, p in ((p.month, p) for p in found.values())
                   if self._written.get((ap, key)) != p]  # fmt: skip
        if not changed:
            return
        try:
            save_meter_peaks(self.conn, changed)
        except sqlite3.Error as exc:  # a display figure: log it, never stop the registers
            LOG.error("cannot store the meter's peaks of %s: %s", ap, exc)
            return
        self.writes += 1
        for peak in changed:
            self._written[(ap, peak.month)] = peak


def attach_meter_peaks(agent: Agent) -> MeterPeakRecorder:
    """Record the meters' own peaks in `agent`'s store from its telegrams."""
    recorder = MeterPeakRecorder(agent.conn, ZoneInfo(agent.config.gateway.timezone))
    agent.hooks.on_telegrams.append(recorder.on_telegrams)
    return recorder
