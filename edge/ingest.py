"""The ingest pipeline: decoded telegrams of each source -> the quarter-hour engines.

Strategy: one `Ingestor` serves every source of a gateway, live or replayed, so a capture takes
exactly the path a serial line does. It maps each source to its allocation point, feeds the
engines and returns what closed; it does no I/O and keeps no clock of its own — the agent passes
`received` (the gateway's clock) and `now`. M-Bus electricity meters (`mbus:<ean>:<channel>`)
are fed from the telegrams of the point they hang on, with their own capture times.

Every telegram's meter time passes the point's `TimeGate` first (SPEC §4: judged, not trusted):
a small step forward costs a few comparisons; an implausible time is held or rejected (counted
in `PointCounters.rejected_time`, logged once per run), never fed to an engine. A capture
(`PointFeed.capture`) is meter time through and through: under a gateway clock its silences are
judged by its own telegrams, never against the wall clock while it is being read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from edge.adapters.source_lines import preset_for
from edge.p1 import MBUS_ELECTRICITY, MBusDevice, Telegram
from edge.registers import Closed, MeterEngine, Registers4
from edge.registers.timegate import Judged, TimeGate
from edge.registers.timegrid import iso_utc

LOG: Final = logging.getLogger("edge.ingest")
_Item = tuple[Telegram | MBusDevice, Registers4]  # what a gate holds: a reading, its registers

MBUS_INTERVAL_S: Final = 300  # DSMR 5 M-Bus values are captured every 5 minutes


@dataclass(frozen=True, slots=True)
class PointFeed:
    """How one allocation point gets its readings."""

    ap: str
    source: str  # the source (by name) whose telegrams carry this point's readings
    mbus_channel: int | None = None  # set for a slave meter on another point's M-Bus
    capture: bool = False  # read from a file: its silences are judged in meter time only


@dataclass(slots=True)
class PointCounters:
    """What the agent shows per allocation point."""

    readings: int = 0
    untimed: int = 0  # telegrams without a usable timestamp (cannot be placed in time)
    unusable: int = 0  # telegrams without import registers (nothing to feed)
    rejected_time: int = 0  # telegrams whose meter time the gate found implausible (SPEC §4)
    last_meter_time: int | None = None
    meter: str | None = None


class Ingestor:
    """Feeds every allocation point's engine from the telegrams of its source."""

    def __init__(
        self,
        engines: Mapping[str, MeterEngine],
        feeds: Iterable[PointFeed],
        *,
        gateway_clock: bool = False,
    ) -> None:
        """`gateway_clock`: `now` in `advance` is the gateway's clock (`clock = "system"`)."""
        self.engines = dict(engines)
        self._by_source: dict[str, list[PointFeed]] = {}
        self._captures: set[str] = set()
        for feed in feeds:
            self._by_source.setdefault(feed.source, []).append(feed)
            if feed.capture and gateway_clock:
                self._captures.add(feed.ap)
        self.counters = {ap: PointCounters() for ap in self.engines}
        # the gates start from the engines' (restored) last readings: a restart is no new time
        self.gates: dict[str, TimeGate[_Item]] = {
            ap: TimeGate(accepted=engine.last_reading_time) for ap, engine in self.engines.items()
        }
        self._placed: dict[str, list[int]] = {}  # source -> [next time, step] for timeless ones
        self._judged: dict[str, int] = {}  # telegrams off the fast path, per point (for the log)
        self.latest = 0  # newest meter time seen on any source (the "meter clock")

    def feed(
        self, source: str, telegrams: Iterable[Telegram], received: int | None = None
    ) -> list[Closed]:
        """Feed a batch of one source's telegrams; `received` is the gateway clock, if trusted."""
        closed: list[Closed] = []
        feeds = self._by_source.get(source, ())
        placed = self._placed.get(source)
        for telegram in telegrams:
            when = received
            if placed is not None and telegram.timestamp is None:
                when, placed[0] = placed[0], placed[0] + placed[1]
            for point in feeds:
                if point.mbus_channel is None:
                    closed += self._feed_meter(point.ap, telegram, when)
                else:
                    closed += self._feed_mbus(point.ap, point.mbus_channel, telegram)
        return closed

    def advance(self, now: int) -> list[Closed]:
        """Settle boundaries that can no longer get a reading (missing) as of `now`."""
        closed: list[Closed] = []
        for ap, engine in self.engines.items():
            if ap not in self._captures:  # a capture's silence shows in its own next telegram
                closed += engine.advance(now)
        return closed

    def restore(self, checkpoints: Mapping[str, dict[str, Any]]) -> None:
        """Roll back to committed engine checkpoints (e.g. after a failed commit): the engines
        continue from them and the time gates from their last readings; what the gates held
        since is dropped (it was never fed, so nothing stored depends on it)."""
        for ap, state in checkpoints.items():
            engine = self.engines.get(ap)
            if engine is not None:
                engine.restore(state)
                self.gates[ap] = TimeGate(accepted=engine.last_reading_time)
        self.latest = max((e.last_reading_time or 0 for e in self.engines.values()), default=0)

    def place_untimed(self, source: str, start: int, interval_s: int) -> None:
        """Give a capture's telegrams that carry no time (DSMR 2.2/3) the capture's pacing:
        the first at `start`, each next one `interval_s` later (asked for by the user: a
        replay has no gateway clock to stamp them)."""
        self._placed[source] = [start, interval_s]

    def source_ended(self, source: str) -> list[Closed]:
        """A source (a capture) has no more telegrams: settle what its gates still hold."""
        closed: list[Closed] = []
        for point in self._by_source.get(source, ()):
            closed += self._admitted(point.ap, self.gates[point.ap].end(), None)
        return closed

    def _feed_meter(self, ap: str, telegram: Telegram, received: int | None) -> list[Closed]:
        stamp = telegram.timestamp
        registers = registers4(telegram)
        if registers is None:
            self.counters[ap].unusable += 1
            return []
        if stamp is not None:
            t = int(stamp.timestamp())
        elif received is not None:
            t = received  # DSMR 2.2/3 carry no time: the gateway's clock is all there is
        else:
            self.counters[ap].untimed += 1
            return []
        gate = self.gates[ap]
        if gate.fast(t, received):
            return self._feed_engine(ap, t, telegram, registers, received)
        offset = letter_offset(telegram) if stamp is not None else None
        judged = gate.judge(
            t, (telegram, registers), received=received, offset_s=offset, tz=telegram.local_tz
        )
        return self._admitted(ap, judged, received)

    def _admitted(self, ap: str, judged: Judged[_Item], received: int | None) -> list[Closed]:
        """Count and log a judgement of the gate; feed what it let through."""
        counters = self.counters[ap]
        counters.rejected_time += judged.rejected
        if judged.reason is not None:
            self._judged[ap] = n = self._judged.get(ap, 0) + 1
            if n & (n - 1) == 0:  # the 1st, 2nd, 4th, 8th … : a bad clock cannot flood the log
                LOG.warning(
                    "%s: implausible meter time (%s), held or rejected; %d rejected so far",
                    ap, judged.reason, counters.rejected_time,
                )  # fmt: skip
        if judged.reset:
            LOG.warning("%s: meter clock reset accepted: new time line from %s", ap,
                        iso_utc(judged.items[0][0]))  # fmt: skip
            self.engines[ap].restart_time()
        closed: list[Closed] = []
        for t, item in judged.items:
            closed += self._feed_accepted(ap, t, item, received)
        if judged.reset:
            self.latest = max(e.last_reading_time or 0 for e in self.engines.values())
        return closed

    def _feed_accepted(self, ap: str, t: int, item: _Item, received: int | None) -> list[Closed]:
        reading, registers = item
        if isinstance(reading, MBusDevice):  # a slave meter's own capture
            counters = self.counters[ap]
            counters.readings += 1
            counters.last_meter_time = t
            counters.meter = reading.equipment_id
            return self.engines[ap].feed(t, registers, meter=reading.equipment_id)
        return self._feed_engine(ap, t, reading, registers, received)

    def _feed_engine(
        self, ap: str, t: int, telegram: Telegram, registers: Registers4, received: int | None
    ) -> list[Closed]:
        counters = self.counters[ap]
        engine = self.engines[ap]
        if engine.interval_s == 0:  # dialect "auto": known from the first telegram
            engine.interval_s = interval_for("auto", telegram)
        power_failures = telegram.power_failure_count if engine.gap_before(t) else None
        counters.readings += 1
        counters.last_meter_time = t
        counters.meter = telegram.equipment_id
        if t > self.latest:
            self.latest = t
        return engine.feed(
            t,
            registers,
            meter=telegram.equipment_id,
            power_w=telegram.power_import_w,
            power_failures=power_failures,
            received=received,
        )

    def _feed_mbus(self, ap: str, channel: int, telegram: Telegram) -> list[Closed]:
        device = telegram.mbus_channel(channel)  # only this channel: not every device per telegram
        if device is None or device.device_type != MBUS_ELECTRICITY:
            return []
        if device.timestamp is None or device.base_value is None:
            return []
        t = int(device.timestamp.timestamp())
        gate = self.gates[ap]
        if t == gate.accepted or (gate.held and t == gate.held[-1][0]):
            return []  # the same capture repeats in every telegram until the next one
        item: _Item = (device, (device.base_value, 0, 0, 0))
        # the hosting telegram's own time vouches for (or against) the capture time
        host = int(telegram.timestamp.timestamp()) if telegram.timestamp is not None else None
        if gate.fast(t, host):
            return self._feed_accepted(ap, t, item, None)
        judged = gate.judge(t, item, received=host, offset_s=None, tz=telegram.local_tz)
        return self._admitted(ap, judged, None)


def letter_offset(telegram: Telegram) -> int | None:
    """The UTC offset its S/W letter gives the telegram's time (None without a letter)."""
    raw = telegram.raw("0-0:1.0.0")
    if raw is None or len(raw) != 13:
        return None
    return _LETTER_OFFSET_S.get(raw[12])


_LETTER_OFFSET_S: Final = {"S": 7200, "W": 3600}


def registers4(telegram: Telegram) -> Registers4 | None:
    """The four registers; a single-register meter reports its totals as tariff 1."""
    r = telegram.registers
    if r.import_t1 is not None and r.import_t2 is not None:
        return (r.import_t1, r.import_t2, r.export_t1 or 0, r.export_t2 or 0)
    if r.import_total is not None:
        return (r.import_total, 0, r.export_total or 0, 0)
    return None


def interval_for(dialect: str, telegram: Telegram | None = None) -> int:
    """The telegram interval of a dialect (the sources' presets); for `auto`, judged from the
    DSMR version line — the presets assume the slowest for `auto`, to never call a meter silent,
    but a "measured" boundary must not be judged that loosely."""
    if dialect != "auto":
        return int(preset_for(dialect).interval_s)
    version = telegram.version if telegram is not None else None
    return 1 if version is not None and version.startswith("5") else 10
