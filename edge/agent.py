"""The edge agent: the composition root that wires sources, engines, store and (later) release.

Strategy: one main thread owns the database connection and the engines; each source runs its
own reader thread and hands decoded batches over a queue. The main loop takes a batch, feeds the
`Ingestor`, and commits whatever closed together with every engine's checkpoint in one
transaction. Time: with `clock = "system"` the gateway's clock is "now" (and the reference for
R4); with `clock = "meter"` "now" is the newest meter time seen (replays, demos). Hooks
(`after_commit`, `on_tick`) let the release machinery and the status writer plug in without
this module knowing them.
"""

from __future__ import annotations

import logging
import queue
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from edge import status
from edge.adapters.source_base import SourceBatch, SourceWorker
from edge.adapters.sources import make_source
from edge.config import Config
from edge.config.model import Clock
from edge.config.points import FileSource as FileSourceConfig
from edge.config.points import MBusSource
from edge.ingest import Ingestor, PointFeed, interval_for
from edge.p1 import Telegram
from edge.registers import Closed, MeterEngine
from edge.store import connect
from edge.store.registers import commit_closed, load_checkpoints

if TYPE_CHECKING:
    from edge.web.server import WebServer

LOG: Final = logging.getLogger("edge.agent")
TICK_S: Final = 1.0
STATUS_EVERY_S: Final = 5.0
# Batches waiting for the main loop. A replay's batch is a 4 MiB chunk (one commit, one fsync,
# per batch rather than per quarter-hour read): a few in flight bound the memory of decoded
# telegrams; a live line's batches are tiny and never fill it.
QUEUE_BATCHES: Final = 8


@dataclass(slots=True)
class AgentHooks:
    """Extension points called from the main thread."""

    after_commit: list[Callable[[list[Closed], int], None]] = field(default_factory=list)
    # every batch of valid telegrams of a source (live values for the home; keep it cheap)
    on_telegrams: list[Callable[[str, list[Telegram]], None]] = field(default_factory=list)
    on_tick: list[Callable[[int], None]] = field(default_factory=list)
    on_stop: list[Callable[[], None]] = field(default_factory=list)


class Agent:
    """Runs the gateway until stopped (or, with `until_eof`, until every capture is read)."""

    def __init__(
        self,
        config: Config,
        *,
        until_eof: bool = False,
        sources: dict[str, list[str]] | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> None:
        self.config = config
        self.until_eof = until_eof
        self.tz = ZoneInfo(config.gateway.timezone)
        self.conn = conn or connect(config.gateway.data_dir)
        self.queue: queue.Queue[SourceBatch] = queue.Queue(maxsize=QUEUE_BATCHES)
        self.hooks = AgentHooks()
        self.status_parts: dict[str, Callable[[], object]] = {}  # extra sections of status.json
        self._status_due = 0.0
        self.stop_event = threading.Event()
        self._replay = sources is not None  # a replay serves no page
        self._source_urls = sources or self._configured_sources()
        self.sources: dict[str, list[SourceWorker]] = {}
        self._reading: dict[str, int] = {}  # which capture of a point is being read
        self.ingestor = self._build_ingestor()
        self.now = 0
        self.stopped = False
        self.exit_code = 0  # a hook may set it (e.g. blocks the broker refused)
        self.drain_timeout = 60.0  # --until-eof: how long to wait for the outbox to empty

    # -- wiring ---------------------------------------------------------------------------------

    def _configured_sources(self) -> dict[str, list[str]]:
        urls: dict[str, list[str]] = {}
        for point in self.config.points:
            source = point.source
            if isinstance(source, MBusSource):
                continue
            if isinstance(source, FileSourceConfig):
                urls[point.ean] = [f"file:{source.path}"]
            else:
                urls[point.ean] = [source.url]
        return urls

    def _build_ingestor(self) -> Ingestor:
        limit = self.config.connection.quarter_capacity_wh * 12 // 10  # R2: 120 %
        engines: dict[str, MeterEngine] = {}
        feeds = []
        for point in self.config.points:
            source = point.source
            if isinstance(source, MBusSource):
                interval = 300
                feeds.append(PointFeed(point.ean, source.ean, source.channel))
            else:
                interval = 0 if point.dialect == "auto" else interval_for(point.dialect)
                urls = self._source_urls.get(point.ean, [""])
                feeds.append(PointFeed(point.ean, point.ean, capture=urls[0].startswith("file:")))
            engines[point.ean] = MeterEngine(point.ean, interval_s=interval, quarter_limit_wh=limit)
        for ap, state in load_checkpoints(self.conn).items():
            if ap in engines:
                engines[ap].restore(state)
        return Ingestor(engines, feeds, gateway_clock=self.config.gateway.clock is Clock.SYSTEM)

    def _start_sources(self) -> None:
        for ap, urls in self._source_urls.items():
            point = self.config.point(ap)
            workers: list[SourceWorker] = []
            for url in urls:
                workers.append(
                    make_source(
                        ap,
                        url,
                        self.queue,
                        dialect=str(point.dialect),
                        key=point.key,
                        auth_key=point.auth_key,
                        local_tz=self.tz,
                    )
                )
            self.sources[ap] = workers
            self._reading[ap] = 0
            workers[0].start()  # captures of one point are read one after the other

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; returns the process exit code."""
        self._install_signals()
        self._start_sources()
        LOG.info("agent %s started with %d sources", self.config.gateway.id, len(self.sources))
        next_tick = 0.0
        web = None
        try:
            web = self._start_web()
            while not self.stop_event.is_set():
                batch = self._next_batch()
                if batch is not None:
                    self._handle(batch)
                if time.monotonic() >= next_tick:
                    self._tick()
                    next_tick = time.monotonic() + TICK_S
                if self.until_eof and self.all_read():
                    self._tick(final=True)
                    break
        finally:
            if web is not None:
                web.stop()
            self._shutdown()
        return self.exit_code

    def _start_web(self) -> WebServer | None:
        """The customer's page (`[web]`) in a thread of its own; loaded only when configured."""
        if self.config.web is None or self._replay:
            return None
        from edge.web import start_web

        return start_web(self)

    def _next_batch(self) -> SourceBatch | None:
        try:
            return self.queue.get(timeout=0.2)
        except queue.Empty:
            return None

    def _handle(self, batch: SourceBatch) -> None:
        telegrams = [e for e in batch.events if isinstance(e, Telegram)]
        received = None
        live = not self._source_urls[batch.source][0].startswith("file:")
        if self.config.gateway.clock is Clock.SYSTEM and live:
            received = int(time.time() - (time.monotonic() - batch.received_monotonic))
        closed = self.ingestor.feed(batch.source, telegrams, received)
        # live views see the telegrams before their closures: a quarter's last telegrams are
        # judged against the month as it stood (the peak warning); the store is read after
        # the commit (`after_commit`)
        for hook in self.hooks.on_telegrams:
            hook(batch.source, telegrams)
        if batch.eof:
            closed += self.ingestor.source_ended(batch.source)  # what the time gate still held
            self._next_capture(batch.source)
        self._commit(closed)

    def _next_capture(self, ap: str) -> None:
        workers = self.sources.get(ap, [])
        position = self._reading.get(ap, 0) + 1
        if position < len(workers):
            self._reading[ap] = position
            workers[position].start()

    def _tick(self, *, final: bool = False) -> None:
        now = self._now()
        # Silence settles boundaries as missing only against a clock that runs for every meter:
        # the gateway's. Meter time comes from each source at its own pace (replays read as
        # fast as they can), so there the newest meter time would wrongly condemn a meter that
        # is merely behind; it is used once, when every capture has been read.
        if now and (final or self.config.gateway.clock is Clock.SYSTEM):
            self._commit(self.ingestor.advance(now))
        for hook in self.hooks.on_tick:
            hook(now)
        if time.monotonic() >= self._status_due:
            self.write_status()
            self._status_due = time.monotonic() + STATUS_EVERY_S

    def write_status(self) -> None:
        """Rewrite `status.json` in the data directory."""
        status.write(self.config.gateway.data_dir, status.snapshot(self))

    def _now(self) -> int:
        if self.config.gateway.clock is Clock.METER:
            self.now = max(self.now, self.ingestor.latest)
        else:
            self.now = int(time.time())
        return self.now

    def _commit(self, closed: list[Closed]) -> None:
        if not closed:
            return
        checkpoints = {ap: engine.checkpoint() for ap, engine in self.ingestor.engines.items()}
        commit_closed(self.conn, closed, checkpoints)
        now = self._now()
        for hook in self.hooks.after_commit:
            hook(closed, now)

    def all_read(self) -> bool:
        """Every `file:` capture read AND every batch of it handled (nothing left queued)."""
        workers = [w for ws in self.sources.values() for w in ws]
        files = [w for w in workers if w.url.startswith("file:")]
        return bool(files) and all(w.eof for w in files) and self.queue.empty()

    def bytes_read(self) -> int:
        """How much of the `file:` captures has been read (for progress bars)."""
        return sum(
            getattr(worker, "bytes_read", 0)
            for workers in self.sources.values()
            for worker in workers
        )

    def _shutdown(self) -> None:
        for workers in self.sources.values():
            for worker in workers:
                worker.stop()
        # Keep what the open intervals have seen: a restart continues mid-quarter.
        checkpoints = {ap: engine.checkpoint() for ap, engine in self.ingestor.engines.items()}
        commit_closed(self.conn, [], checkpoints)
        for hook in self.hooks.on_stop:
            hook()
        self.stopped = True
        self.write_status()
        LOG.info("agent stopped")

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def stop(signum: int, _frame: FrameType | None) -> None:
            LOG.info("signal %d: stopping", signum)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)


def capture_sources(ap: str, captures: Sequence[str]) -> dict[str, list[str]]:
    """The source table of a replay: the captures of one point, read in order."""
    return {ap: [c if c.startswith("file:") else f"file:{c}" for c in captures]}
