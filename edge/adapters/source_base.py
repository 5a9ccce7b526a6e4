"""What every source shares: the batch it delivers, its status snapshot, its thread and counters.

Strategy: a source owns one background thread and one `P1Decoder`. The thread decodes each chunk
it reads and puts ONE `SourceBatch` per chunk on the consumer's queue, so the per-telegram cost
stays inside the decoder and the agent wakes once per chunk. Counters are written by the thread
under a lock and read as a frozen `SourceStatus`. The thread body runs under `supervise`: an
unexpected error is logged once, raised as an alarm on the agent's `Health` and the body runs
again after a backoff (a live line); a source that cannot be restarted (a capture, read once)
or keeps failing marks the process fatal, and the agent stops non-zero.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from edge.adapters.source_clock import SYSTEM_CLOCK, Clock
from edge.logsetup import RETRYING
from edge.p1 import Event, P1Decoder, Telegram
from edge.supervisor import Health, supervise

LOG: Final = logging.getLogger("edge.source")

SourceState = Literal["connecting", "connected", "backoff", "stopped"]

# How long a blocked put waits before looking at the stop flag again: bounds stop() latency
# when the consumer has stopped reading.
_PUT_POLL_S: Final = 0.1


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """The events decoded from one read chunk of one source (never empty unless `eof`).

    `received_monotonic` is the source clock's reading when the chunk arrived. `eof` is True on
    the last batch of a `file:` source (its events may be empty); serial sources never end.
    """

    source: str
    events: tuple[Event, ...]
    received_monotonic: float
    eof: bool = False


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A snapshot of one source's counters and state, for `edge-agent status`."""

    name: str
    url: str
    state: SourceState
    line: str  # the line settings in use, e.g. "115200 8N1"; "file" for a capture
    telegrams: int
    crc_errors: int
    errors: int  # frames rejected for another reason (parse, decrypt, truncated, oversized)
    reconnects: int
    skipped_bytes: int
    last_meter_time: datetime | None  # the newest telegram timestamp (aware UTC)
    last_received_monotonic: float | None  # when the newest telegram arrived (source clock)
    last_error: str | None
    eof: bool


class SourceWorker:
    """Thread, decoder, counters and delivery shared by `SerialSource` and `FileSource`."""

    restartable = True  # may `_run` be called again after it raised? (not for a capture)

    def __init__(
        self,
        name: str,
        url: str,
        sink: queue.Queue[SourceBatch],
        decoder: P1Decoder,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.name = name
        self.url = url
        self._sink = sink
        self._decoder = decoder
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.eof_event = threading.Event()
        self._state: SourceState = "stopped"
        self._line = ""
        self._reconnects = 0
        self._last_meter_time: datetime | None = None
        self._last_received: float | None = None
        self._last_error: str | None = None
        self.health = Health()  # the agent sets its own before `start`
        self._failed = False  # the body raised; cleared (with the alarm) at the next telegram

    # -- public API --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is not None:
            raise RuntimeError(f"source {self.name} already started")
        self._thread = threading.Thread(target=self._main, name=f"source-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the thread to end and join it; True when it ended within `timeout` seconds."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def eof(self) -> bool:
        """True once a `file:` source has delivered its last batch."""
        return self.eof_event.is_set()

    def status(self) -> SourceStatus:
        """A consistent snapshot of the counters."""
        with self._lock:
            stats = self._decoder.stats
            return SourceStatus(
                name=self.name,
                url=self.url,
                state=self._state,
                line=self._line,
                telegrams=stats.telegrams,
                crc_errors=stats.crc_bad,
                errors=stats.errors,
                reconnects=self._reconnects,
                skipped_bytes=stats.skipped_bytes,
                last_meter_time=self._last_meter_time,
                last_received_monotonic=self._last_received,
                last_error=self._last_error,
                eof=self.eof_event.is_set(),
            )

    # -- for subclasses ----------------------------------------------------------------------

    def _run(self) -> None:
        raise NotImplementedError

    def _main(self) -> None:
        try:
            supervise(
                f"source {self.name}",
                self._guarded,
                self.health,
                self._stop,
                backoff_max=30.0,
                retry=self.restartable,
            )
        finally:
            self._set_state("stopped")

    def _guarded(self) -> None:
        try:
            self._run()
        except Exception as exc:  # recorded for the status, then handed to the supervisor
            with self._lock:
                self._last_error = f"{type(exc).__name__}: {exc}"
            self._set_state("backoff", self._last_error)
            self._failed = True
            raise

    def _set_state(self, state: SourceState, detail: str = "") -> None:
        with self._lock:
            if state == self._state:
                return
            self._state = state
        retrying = {RETRYING: state in ("connecting", "backoff")}  # edge.logsetup.RepeatFilter
        LOG.info("%s: %s%s", self.name, state, f" ({detail})" if detail else "", extra=retrying)

    def _record_error(self, text: str) -> None:
        with self._lock:
            self._last_error = text

    def _set_line(self, line: str) -> None:
        with self._lock:
            self._line = line

    def _count_reconnect(self) -> None:
        with self._lock:
            self._reconnects += 1

    def _ingest(self, data: bytes, flush: bool = False, eof: bool = False) -> tuple[Event, ...]:
        """Decode a chunk, update the counters and deliver it as one batch.

        `flush` ends the current stream (a lost connection, the end of a file): a partial
        frame becomes a "truncated" rejection instead of gluing onto the next connection's bytes.
        """
        now = self._clock.monotonic()
        with self._lock:
            events = self._decoder.feed(data) if data else []
            if flush:  # the end of a file completes a telegram ending in `!`; a lost line does not
                events += self._decoder.end_of_input() if eof else self._decoder.flush()
            self._note_last_telegram(events, now)
        batch = tuple(events)
        if batch or eof:
            self._deliver(SourceBatch(self.name, batch, now, eof))
        return batch

    def _note_last_telegram(self, events: list[Event], now: float) -> None:
        for event in reversed(events):
            if isinstance(event, Telegram):
                if self._failed:
                    self._failed = False
                    self.health.clear(f"source {self.name}")
                self._last_received = now
                if event.timestamp is not None:
                    self._last_meter_time = event.timestamp
                return

    def _deliver(self, batch: SourceBatch) -> None:
        """Put one batch on the queue, waiting for room unless the source is stopping."""
        while not self._stop.is_set():
            try:
                self._sink.put(batch, timeout=_PUT_POLL_S)
                return
            except queue.Full:
                continue
