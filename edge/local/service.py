"""The local connection's logic: per meter live state, peak warning and what to publish when.

Strategy: the agent's hooks call in on its main thread. Every telegram steps the meter's peak
warning machine (a few integer operations); building and publishing a state message happens at
most every `live_interval_s` per meter, in meter time or gateway time as `gateway.clock` says
(a replay at full speed thus publishes per simulated interval, not per telegram). Closed
boundaries (`after_commit`) move the month's peak (our own figure, from the registers); the
meter's own `1-0:1.6.0`, when it sends one, raises the bar further — the bill follows the meter.
The link never blocks: a message the broker cannot take now is dropped.

Home Assistant learns of a meter from its first state: one device config with a component per
key the meter sends (`discovery.py`), and one per M-Bus sub-meter it carries; a key that shows
up later re-announces its device. Each meter's availability (`availability.py`) is looked at on
the agent's tick and published, retained, only when it changes.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Protocol

from edge.config import Config
from edge.config.model import Clock
from edge.config.points import MBusSource
from edge.ingest import registers4
from edge.local.availability import MeterAvailability, silence_s
from edge.local.discovery import (
    announced_keys,
    component,
    device_config,
    device_of,
    device_topic,
    meter_device,
    object_id,
    submeter_device,
)
from edge.local.values import SUBMETERS, WARNING_KEY, Number, kwh, telegram_values
from edge.p1 import MBUS_ELECTRICITY, Telegram
from edge.registers import Closed
from edge.registers.capacity import (
    MonthPeakTracker,
    month_of,
    month_range,
    monthly_peaks,
    quarter_powers,
)
from edge.registers.peak_warning import PeakWarning, WarningState
from edge.registers.timegrid import iso_utc
from edge.status import readable_meter_id
from edge.store.registers import boundaries, last_boundary

# announced from a meter's first state on, although they appear only once a quarter has passed
QUARTER_KEYS = frozenset({"quarter_average_w", "quarter_projected_w", "month_peak_w", WARNING_KEY})
# ... and by a Belgian meter (it sends 1-0:1.6.0), its own figure, unknown at a month's start
METER_PEAK_KEY = "meter_month_peak_w"
ONLINE, OFFLINE = b"online", b"offline"


class Publisher(Protocol):
    """What the service needs of a link (the real `LocalLink`, or a recorder in tests)."""

    def publish_live(self, topic: str, payload: bytes) -> bool: ...

    def set_retained(self, topic: str, payload: bytes) -> None: ...


@dataclass(slots=True)
class _Meter:
    """What the service keeps per allocation point."""

    ap: str
    warning: PeakWarning
    tracker: MonthPeakTracker
    last_publish: float | None = None
    announced: set[str] = field(default_factory=set)
    # device kind (None: the meter, else "gas" …) -> component id -> config, as announced
    components: dict[str | None, dict[str, dict[str, object]]] = field(default_factory=dict)
    peak_raw: str | None = None  # the meter's 1-0:1.6.0 line as last seen
    meter_peak: tuple[str, int] | None = None  # (month, W) of the meter's own figure
    live_peak: tuple[str, int] | None = None  # (month, W) of quarters closed in the warning


class LocalService:
    """Live values, month peak and peak warning per meter, for the local broker."""

    def __init__(
        self,
        config: Config,
        link: Publisher,
        conn: sqlite3.Connection,
        tz: tzinfo,
        *,
        clock: Callable[[], float] = time.time,
        availability: MeterAvailability | None = None,
    ) -> None:
        local = config.local
        assert local is not None, "the local service needs a [local] section"
        self.config = config
        self.local = local
        self.link = link
        self.tz = tz
        self.clock = clock
        self.gateway = config.gateway.id
        self.base = f"{local.prefix}/{self.gateway}"
        self.meters = {p.ean: self._meter(conn, p.ean) for p in config.points}
        # M-Bus electricity meters ride on another point's telegrams: source -> [(ap, channel)]
        self.mbus: dict[str, list[tuple[str, int]]] = {}
        for point in config.points:
            if isinstance(point.source, MBusSource):
                self.mbus.setdefault(point.source.ean, []).append((point.ean, point.source.channel))
        self.availability = availability
        for ap in self.meters:  # unknown until the first look at the lines: not available
            link.set_retained(self.meter_availability_topic(ap), OFFLINE)

    @property
    def availability_topic(self) -> str:
        """Retained "online"/"offline" (the last will) of this gateway."""
        return f"{self.base}/availability"

    def meter_availability_topic(self, ap: str) -> str:
        """Retained "online"/"offline": is the meter being read (its line, its telegrams)?"""
        return f"{self.base}/{ap}/availability"

    def state_topic(self, ap: str) -> str:
        """The live state JSON of one meter."""
        return f"{self.base}/{ap}/state"

    def _meter(self, conn: sqlite3.Connection, ap: str) -> _Meter:
        tracker = MonthPeakTracker(self.tz)
        last = last_boundary(conn, ap)
        if last is not None:  # continue the month the store ends in
            month = month_of(last - 1, self.tz)
            start, end = month_range(month, self.tz)
            found = boundaries(conn, ap, start, end)
            peak = monthly_peaks(quarter_powers(found), [month], self.tz)[0]
            tracker.seed(peak, found[-1] if found else None)
        return _Meter(ap, PeakWarning(self.local.peak_warning_margin), tracker)

    # -- agent hooks (main thread) --------------------------------------------------------------

    def on_telegrams(self, source: str, telegrams: list[Telegram]) -> None:
        """Step the warning with every telegram; publish what is due."""
        meter = self.meters.get(source)
        if meter is None:
            return
        for telegram in telegrams:
            if telegram.timestamp is None:
                continue
            t = int(telegram.timestamp.timestamp())
            state = self._observe(meter, t, telegram)
            now = t if self.config.gateway.clock is Clock.METER else self.clock()
            if self._due(meter, now):
                self._publish(meter, telegram, state)
                for ap, channel in self.mbus.get(source, ()):
                    self._publish_mbus(self.meters[ap], telegram, channel, now)

    def after_commit(self, closed: list[Closed], _now: int) -> None:
        """Closed boundaries move the month's peak."""
        for item in closed:
            meter = self.meters.get(item.ap)
            if meter is not None:
                meter.tracker.observe(item.boundary)

    def on_tick(self, now: int) -> None:
        """A quarter that ended without telegrams clears its warning; meters that went silent
        or came back change their availability."""
        if now:
            for meter in self.meters.values():
                meter.warning.tick(now)
        if self.availability is not None:
            for ap, available in self.availability.changes().items():
                self.link.set_retained(
                    self.meter_availability_topic(ap), ONLINE if available else OFFLINE
                )

    # -- internals ------------------------------------------------------------------------------

    def _observe(self, meter: _Meter, t: int, telegram: Telegram) -> WarningState | None:
        regs = registers4(telegram)
        if regs is None:
            return meter.warning.state
        closed = meter.warning.closed
        state = meter.warning.observe(
            t,
            regs[0] + regs[1],
            power_w=telegram.power_import_w,
            demand_w=telegram.average_demand_w,
            month_peak_w=self._month_peak(meter, t, telegram),
        )
        if meter.warning.closed is not closed and meter.warning.closed is not None:
            self._note_closed(meter, *meter.warning.closed)
        return state

    def _note_closed(self, meter: _Meter, start: int, watts: int) -> None:
        """A quarter the warning machine saw end: the month's peak need not wait for the store
        (a replay hands over thousands of telegrams before their boundaries are committed)."""
        month = month_of(start, self.tz)
        live = meter.live_peak
        if live is None or live[0] != month or watts > live[1]:
            meter.live_peak = (month, watts)

    def _month_peak(self, meter: _Meter, t: int, telegram: Telegram) -> int | None:
        ours, theirs = self._peaks(meter, t, telegram)
        if theirs is None:
            return ours
        return max(ours or 0, theirs)

    def _peaks(self, meter: _Meter, t: int, telegram: Telegram) -> tuple[int | None, int | None]:
        """(our month peak, the meter's own) at meter time `t`; None: not known yet."""
        month = month_of(t, self.tz)
        ours = meter.tracker.peak_in(month)
        live = meter.live_peak
        if live is not None and live[0] == month:
            ours = max(ours or 0, live[1])
        raw = telegram.raw("1-0:1.6.0")
        if raw is not None and raw != meter.peak_raw:  # parse only when the line changes
            meter.peak_raw = raw
            found = telegram.month_peak
            watts = found[1] if found is not None else None
            meter.meter_peak = (month, watts) if watts is not None else None
        theirs = meter.meter_peak
        # a meter shows 0 W until its month's first quarter closes: that is no peak yet, and a
        # peak of 0 would chart a false minimum (Home Assistant shows unknown instead); once a
        # quarter of the month closed (ours is known), 0 W is a real figure (an export month)
        if theirs is None or theirs[0] != month or not (theirs[1] or ours is not None):
            return ours, None
        return ours, theirs[1]

    def _due(self, meter: _Meter, now: float) -> bool:
        last = meter.last_publish
        if last is not None and 0 <= now - last < self.local.live_interval_s:
            return False
        meter.last_publish = now
        return True

    def _publish(self, meter: _Meter, telegram: Telegram, state: WarningState | None) -> None:
        values = telegram_values(telegram)
        t = int(telegram.timestamp.timestamp()) if telegram.timestamp else 0
        ours, theirs = self._peaks(meter, t, telegram)
        if ours is not None or theirs is not None:
            values["month_peak_w"] = max(ours or 0, theirs or 0)
        if theirs is not None:
            values["meter_month_peak_w"] = theirs
        if state is not None:  # from 1-0:1.4.0 when sent, else from the registers
            if state.average_w is not None:
                values["quarter_average_w"] = state.average_w
            if state.projected_w is not None:
                values["quarter_projected_w"] = state.projected_w
        values[WARNING_KEY] = "ON" if meter.warning.active else "OFF"
        always = QUARTER_KEYS | {METER_PEAK_KEY} if telegram.raw("1-0:1.6.0") else QUARTER_KEYS
        self._send(meter, values, telegram, always)

    def _publish_mbus(self, meter: _Meter, telegram: Telegram, channel: int, now: float) -> None:
        for dev in telegram.mbus_of_type(MBUS_ELECTRICITY):
            if dev.channel == channel and dev.base_value is not None and self._due(meter, now):
                values: dict[str, Number | str] = {"import_kwh": kwh(dev.base_value)}
                if dev.timestamp is not None:
                    values["time"] = iso_utc(int(dev.timestamp.timestamp()))
                self._send(meter, values, telegram)

    def _send(
        self,
        meter: _Meter,
        values: dict[str, Number | str],
        telegram: Telegram,
        always: frozenset[str] = frozenset(),
    ) -> None:
        topic = self.state_topic(meter.ap)
        if self.local.homeassistant_discovery:
            new = (announced_keys(values) | always) - meter.announced
            if new:
                self._announce(meter, new, telegram)
        self.link.publish_live(topic, json.dumps(values, separators=(",", ":")).encode())

    def _announce(self, meter: _Meter, keys: set[str], telegram: Telegram) -> None:
        """Add `keys` to their devices' components and publish those devices' configs."""
        point = self.config.point(meter.ap)
        # unavailable once the meter is silent (as its line is judged) after its last update
        expire = math.ceil(self.local.live_interval_s + silence_s(str(point.dialect)))
        changed: set[str | None] = set()
        for key in sorted(keys):
            kind = device_of(key)
            cid, config = component(key, gateway=self.gateway, ap=meter.ap, expire_after=expire)
            meter.components.setdefault(kind, {})[cid] = config
            changed.add(kind)
        meter.announced |= keys
        for kind in changed:
            dev = self._device(meter.ap, kind, telegram)
            device_id = dev["identifiers"][0]
            payload = device_config(
                dev,
                meter.components[kind],
                state_topic=self.state_topic(meter.ap),
                availability=(self.availability_topic, self.meter_availability_topic(meter.ap)),
            )
            self.link.set_retained(device_topic(device_id), payload)

    def _device(self, ap: str, kind: str | None, telegram: Telegram) -> dict[str, Any]:
        point = self.config.point(ap)
        dev = meter_device(
            self.gateway, ap, str(point.role), str(point.dialect), point.name, telegram
        )
        if kind is None:
            if isinstance(point.source, MBusSource):  # read through another meter
                dev["via_device"] = object_id(self.gateway, point.source.ean)
            return dev
        device_type = next(t for _key, _time, t, k in SUBMETERS if k == kind)
        found = telegram.mbus_of_type(device_type)
        equipment = readable_meter_id(found[0].equipment_id) if found else None
        return submeter_device(self.gateway, ap, kind, dev["name"], equipment)
