"""The ingest pipeline: decoded telegrams of each source -> the quarter-hour engines.

Strategy: one `Ingestor` serves every source of a gateway, live or replayed, so a capture takes
exactly the path a serial line does. It maps each source to its allocation point, feeds the
engines and returns what closed; it does no I/O and keeps no clock of its own — the agent passes
`received` (the gateway's clock) and `now`. M-Bus electricity meters (`mbus:<ean>:<channel>`)
are fed from the telegrams of the point they hang on, with their own capture times.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from edge.adapters.source_lines import preset_for
from edge.p1 import MBUS_ELECTRICITY, Telegram
from edge.registers import Closed, MeterEngine, Registers4

MBUS_INTERVAL_S: Final = 300  # DSMR 5 M-Bus values are captured every 5 minutes


@dataclass(frozen=True, slots=True)
class PointFeed:
    """How one allocation point gets its readings."""

    ap: str
    source: str  # the source (by name) whose telegrams carry this point's readings
    mbus_channel: int | None = None  # set for a slave meter on another point's M-Bus


@dataclass(slots=True)
class PointCounters:
    """What the agent shows per allocation point."""

    readings: int = 0
    untimed: int = 0  # telegrams without a usable timestamp (cannot be placed in time)
    last_meter_time: int | None = None
    meter: str | None = None


class Ingestor:
    """Feeds every allocation point's engine from the telegrams of its source."""

    def __init__(self, engines: Mapping[str, MeterEngine], feeds: Iterable[PointFeed]) -> None:
        self.engines = dict(engines)
        self._by_source: dict[str, list[PointFeed]] = {}
        for feed in feeds:
            self._by_source.setdefault(feed.source, []).append(feed)
        self.counters = {ap: PointCounters() for ap in self.engines}
        self.latest = 0  # newest meter time seen on any source (the "meter clock")

    def feed(
        self, source: str, telegrams: Iterable[Telegram], received: int | None = None
    ) -> list[Closed]:
        """Feed a batch of one source's telegrams; `received` is the gateway clock, if trusted."""
        closed: list[Closed] = []
        feeds = self._by_source.get(source, ())
        for telegram in telegrams:
            for point in feeds:
                if point.mbus_channel is None:
                    closed += self._feed_meter(point.ap, telegram, received)
                else:
                    closed += self._feed_mbus(point.ap, point.mbus_channel, telegram)
        return closed

    def advance(self, now: int) -> list[Closed]:
        """Settle boundaries that can no longer get a reading (missing) as of `now`."""
        closed: list[Closed] = []
        for engine in self.engines.values():
            closed += engine.advance(now)
        return closed

    def _feed_meter(self, ap: str, telegram: Telegram, received: int | None) -> list[Closed]:
        stamp = telegram.timestamp
        counters = self.counters[ap]
        if stamp is None:
            if received is None:
                counters.untimed += 1
                return []
            t = received  # DSMR 2.2/3 carry no time: the gateway's clock is all there is
        else:
            t = int(stamp.timestamp())
        registers = registers4(telegram)
        if registers is None:
            counters.untimed += 1
            return []
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
        engine = self.engines[ap]
        if engine.last_reading_time is not None and t <= engine.last_reading_time:
            return []  # the same capture repeats in every telegram until the next one
        counters = self.counters[ap]
        counters.readings += 1
        counters.last_meter_time = t
        counters.meter = device.equipment_id
        return engine.feed(t, (device.base_value, 0, 0, 0), meter=device.equipment_id)


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
