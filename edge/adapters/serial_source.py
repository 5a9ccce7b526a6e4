"""A P1 line read through any pyserial URL, kept alive through unplugs, silence and bad settings.

Strategy: the thread runs sessions. A session opens the port with the current line settings, waits
for bytes until the silence deadline (`source_read`: one wake-up per burst of bytes, none in
between; a stop ends the wait at once) and ends with an outcome: the port was lost, it stayed
silent for `silence_intervals` telegram intervals, its bytes show the line settings are wrong, or
the source was stopped. After a session that yielded no telegram on a multi-setting preset (`auto`,
DSMR 4), the next settings are tried at once; once every setting has failed, or when a port is lost
or cannot be opened, the source backs off 1 → 2 → 4 … 30 s (reset by a telegram). A device path
that vanished (USB re-enumeration, a pty closed) is polled during the backoff and retried as soon
as it reappears, so a replugged cable is picked up within a poll interval whatever the backoff has
grown to. A 7-bit line whose driver refuses 7E1 is read as 8N1 with bit 7 cleared (the same bytes
on the wire). A read that leaves a frame unfinished with no more bytes waiting (a USB adapter hands
a telegram over in 16 ms pieces) waits for the time the rest takes on the line before reading
again: two or three wake-ups per telegram instead of one per piece; a backlog is read on at once.
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
from edge.adapters.source_read import FALLBACK_TIMEOUT_S, LineReader, Waker
from edge.errors import ConfigError
from edge.p1 import Event, P1Decoder, Telegram
from edge.p1.values import DEFAULT_TZ

DEVICE_POLL_S: Final = 0.25
# A frame left unfinished by a read: wait for this many more bytes to cross the line (a DSMR 5
# telegram is 0.7-1.1 KiB) before reading again, at most `GATHER_MAX_S`.
GATHER_BYTES: Final = 1024
GATHER_MAX_S: Final = 0.5
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
    intervals without a telegram. `read_timeout`, if given, caps each wait for bytes (None: wait
    until the silence deadline; a stop ends any wait at once). Raises ConfigError for an unknown
    dialect or a URL pyserial does not know.
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
        read_timeout: float | None = None,
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
        self._waker = Waker()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the thread to end (its wait for bytes ends at once) and join it."""
        self._stop.set()
        self._waker.wake()
        return super().stop(timeout)

    # -- the thread --------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            super()._main()
        finally:
            self._waker.close()

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
        # `LineReader` waits itself on a port with a descriptor; the others block in pyserial's
        # read at most this long (a stop or silence is noticed that late there)
        port.timeout = FALLBACK_TIMEOUT_S
        # The P1 data-request line: set before open() so pyserial raises DTR and RTS while
        # opening (it ignores the ioctl failing on ptys and sockets, which have no such lines).
        port.dtr = True
        port.rts = True
        port.open()
        return port

    def _pump(self, port: serial.SerialBase, settings: LineSettings) -> _Outcome:
        judge = _LineJudge(enabled=len(self._lines) > 1)
        reader = LineReader(port, self._waker)
        gather = min(GATHER_MAX_S, GATHER_BYTES * 10 / settings.baudrate)
        got = False
        now = last_progress = self._clock.monotonic()
        while not self._stop.is_set():
            try:
                data = reader.read(self._read_wait(last_progress + self._silence_s - now))
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
                # A frame left unfinished with nothing more waiting: the rest is on its way
                # (a USB adapter's pieces), so let it gather rather than wake for each piece.
                # With a backlog (a fast line, a replay over a pty) read on at once.
                waiting = self._decoder.buffered and not reader.pending()
                if waiting and self._clock.wait(gather, self._stop):
                    break
            if now - last_progress > self._silence_s:
                return _Outcome("silent", f"no telegram for {self._silence_s:g} s", got)
        return _Outcome("stopped", "", got)

    def _read_wait(self, until_silent: float) -> float:
        """How long the next read may wait: until the silence deadline (just past it, so that
        the check after the read finds it passed), capped by `read_timeout`."""
        wait = max(0.0, until_silent) + 0.01
        return wait if self._read_timeout is None else min(wait, self._read_timeout)

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
