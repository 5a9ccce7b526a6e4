"""A P1 line read through any pyserial URL, kept alive through unplugs, silence and bad settings.

Strategy: the thread runs sessions. A session opens the port with the current line settings,
reads with a timeout (so stop and silence are noticed within `read_timeout`) and ends with an
outcome: the port was lost, it stayed silent for `silence_intervals` telegram intervals, its
bytes show the line settings are wrong, or the source was stopped. After a session that yielded
no telegram on a multi-setting preset (`auto`, DSMR 4), the next settings are tried at once; once
every setting has failed, or when a port is lost or cannot be opened, the source backs off
1 → 2 → 4 … 30 s (reset by a telegram). A device path that vanished (USB re-enumeration, a pty
closed) is polled during the backoff and retried as soon as it reappears, so a replugged cable
is picked up within a poll interval whatever the backoff has grown to. A 7-bit line whose driver
refuses 7E1 is read as 8N1 with bit 7 cleared (the same bytes on the wire).
"""

from __future__ import annotations

import contextlib
import os
import queue
import termios
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Final, Literal

import serial

from edge.adapters.source_base import LOG, SourceBatch, SourceWorker
from edge.adapters.source_clock import SYSTEM_CLOCK, Clock
from edge.adapters.source_lines import SEVEN_BIT_MASK, Backoff, LineSettings, preset_for, wrong_line
from edge.errors import ConfigError
from edge.p1 import Event, P1Decoder, Telegram
from edge.p1.values import DEFAULT_TZ

INTER_BYTE_S: Final = 0.05  # a telegram's bytes come back to back; 50 ms of quiet ends a read
READ_MAX: Final = 64 * 1024  # per read: at full speed a chunk carries ~80 DSMR 5 telegrams
DEVICE_POLL_S: Final = 0.25
_HIGH_BYTES: Final = bytes(range(0x80, 0x100))

EndReason = Literal["lost", "silent", "wrong-line", "stopped"]


@dataclass(frozen=True, slots=True)
class _Outcome:
    reason: EndReason
    detail: str
    got_telegram: bool


class SerialSource(SourceWorker):
    """Reads one P1 port (`/dev/ttyUSB0`, `socket://host:port`, `rfc2217://…`, `loop://`).

    `dialect` picks the line settings, interval and CRC rule (`source_lines.PRESETS`);
    `interval_s` overrides the interval; the port counts as silent after `silence_intervals`
    intervals without a telegram. `read_timeout` bounds how late stop and silence are noticed.
    Raises ConfigError for an unknown dialect or a URL pyserial does not know.
    """

    def __init__(
        self,
        name: str,
        url: str,
        sink: queue.Queue[SourceBatch],
        *,
        dialect: str = "auto",
        key: bytes | None = None,
        auth_key: bytes | None = None,
        local_tz: tzinfo = DEFAULT_TZ,
        interval_s: float | None = None,
        silence_intervals: float = 3.0,
        read_timeout: float = 1.0,
        backoff_cap: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        preset = preset_for(dialect)
        _check_url(url)
        decoder = P1Decoder(
            key=key,
            auth_key=auth_key,
            local_tz=local_tz,
            require_crc=preset.require_crc,
            dialect=dialect,
        )
        super().__init__(name, url, sink, decoder, clock)
        self.dialect = dialect
        self._lines = preset.lines
        self._line_index = 0
        self._silence_s = silence_intervals * (interval_s or preset.interval_s)
        self._read_timeout = read_timeout
        self._backoff = Backoff(1.0, backoff_cap)
        self._opened_before = False

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            outcome = self._session()
            if outcome.reason == "stopped" or self._stop.is_set():
                return
            self._after(outcome)

    def _session(self) -> _Outcome:
        settings = self._lines[self._line_index]
        self._set_line(str(settings))
        self._set_state("connecting", f"{self.url} at {settings}")
        try:
            port = self._open(settings)
        except (serial.SerialException, OSError, ValueError, termios.error) as exc:
            return _Outcome("lost", f"open failed: {exc}", False)
        # state first: whoever sees the reconnect counted also sees the state it led to
        self._set_state("connected", str(settings))
        if self._opened_before:
            self._count_reconnect()
        self._opened_before = True
        try:
            return self._pump(port, settings)
        finally:
            _close_quietly(port)
            self._ingest(b"", flush=True)  # a telegram cut by the loss must not glue to the next

    def _open(self, settings: LineSettings) -> serial.SerialBase:
        try:
            return self._open_as(settings)
        except termios.error as exc:
            if not settings.seven_bit:
                raise
            LOG.info(
                "%s: %s refused (%s); reading 8N1 and clearing bit 7", self.name, settings, exc
            )
        # Some drivers (ptys after an 8N1 open, a few USB adapters) refuse 7E1. On the wire 7E1
        # and 8N1 frames have the same length, so 8N1 reads the parity as bit 7, which `_pump`
        # clears: the same bytes arrive.
        self._set_line(f"{settings} (as 8N1)")
        return self._open_as(replace(settings, bytesize=8, parity=serial.PARITY_NONE))

    def _open_as(self, settings: LineSettings) -> serial.SerialBase:
        port = serial.serial_for_url(self.url, do_not_open=True)
        port.baudrate = settings.baudrate
        port.bytesize = settings.bytesize
        port.parity = settings.parity
        port.stopbits = settings.stopbits
        port.timeout = self._read_timeout
        # A read returns once the line has been quiet this long after some bytes: one wake-up
        # per telegram instead of one per read timeout (CPU on a Pi is mostly wake-ups).
        # Handlers without it (socket://) return at the timeout with what has arrived.
        port.inter_byte_timeout = INTER_BYTE_S
        # The P1 data-request line: set before open() so pyserial raises DTR and RTS while
        # opening (it ignores the ioctl failing on ptys and sockets, which have no such lines).
        port.dtr = True
        port.rts = True
        port.open()
        return port

    def _pump(self, port: serial.SerialBase, settings: LineSettings) -> _Outcome:
        judge = _LineJudge(enabled=len(self._lines) > 1)
        got = False
        last_progress = self._clock.monotonic()
        while not self._stop.is_set():
            try:
                data = port.read(READ_MAX)
            except (serial.SerialException, OSError) as exc:
                return _Outcome("lost", str(exc) or type(exc).__name__, got)
            now = self._clock.monotonic()
            if data:
                raw = data
                if settings.seven_bit:
                    data = data.translate(SEVEN_BIT_MASK)
                events = self._ingest(data)
                if _has_telegram(events):
                    got = True
                    last_progress = now
                    self._backoff.reset()
                elif not got and judge.wrong(raw, events):
                    return _Outcome("wrong-line", f"no P1 frame at {settings}", False)
            if now - last_progress > self._silence_s:
                return _Outcome("silent", f"no telegram for {self._silence_s:g} s", got)
        return _Outcome("stopped", "", got)

    def _after(self, outcome: _Outcome) -> None:
        """Choose the next settings and wait as the outcome asks."""
        self._record_error(f"{outcome.reason}: {outcome.detail}")
        if not outcome.got_telegram and outcome.reason != "lost" and len(self._lines) > 1:
            self._line_index = (self._line_index + 1) % len(self._lines)
            if self._line_index != 0:  # untried settings left: no reason to wait
                self._set_state("connecting", f"{outcome.reason}: {outcome.detail}")
                return
        delay = self._backoff.next_delay()
        self._set_state("backoff", f"{outcome.reason}: {outcome.detail}; retry in {delay:g} s")
        self._wait(delay)

    def _wait(self, delay: float) -> None:
        """Sleep `delay` on the clock; cut short by stop or by a vanished device reappearing."""
        watch = None if "://" in self.url else self.url
        absent = watch is not None and not os.path.exists(watch)
        deadline = self._clock.monotonic() + delay
        while (remaining := deadline - self._clock.monotonic()) > 0:
            step = min(remaining, DEVICE_POLL_S) if absent else remaining
            if self._clock.wait(step, self._stop):
                return
            if absent and watch is not None and os.path.exists(watch):
                return


class _LineJudge:
    """Counts bytes, bit-7 bytes and frames until the first telegram (see `wrong_line`)."""

    __slots__ = ("_enabled", "_frames", "_high", "_received")

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._received = self._high = self._frames = 0

    def wrong(self, raw: bytes, events: tuple[Event, ...]) -> bool:
        if not self._enabled:
            return False
        self._received += len(raw)
        self._high += len(raw) - len(raw.translate(None, _HIGH_BYTES))
        self._frames += len(events)
        return wrong_line(self._received, self._high, self._frames)


def _has_telegram(events: tuple[Event, ...]) -> bool:
    return any(isinstance(event, Telegram) for event in events)


def _check_url(url: str) -> None:
    try:
        serial.serial_for_url(url, do_not_open=True)
    except (ValueError, serial.SerialException) as exc:
        raise ConfigError(f"source = {url!r} is not a pyserial URL: {exc}") from exc


def _close_quietly(port: serial.SerialBase) -> None:
    # The device may already be gone: there is nothing left to release then.
    with contextlib.suppress(serial.SerialException, OSError):
        port.close()
