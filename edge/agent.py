"""The edge agent: the composition root that wires sources, engines, store and (later) release.

Strategy: one main thread owns the database connection and the engines; each source runs its own
reader thread and hands decoded batches over a queue. The main loop takes a batch, feeds the
`Ingestor`, and commits whatever closed together with every engine's checkpoint in one transaction.
A capture's batches wake the main loop (a replay goes as fast as it is read); a live line's batches
wait in their own queue for the next tick, at most `TICK_S`, so six meters at a telegram a second
wake the main thread once a second, not seven times (on a Pi the CPU of an idle-looking agent is
mostly wake-ups). Their received time travels with them (R4), and a quarter-hour needs no latency
below a second. Time: with `clock = "system"` the gateway's clock is "now" (and the reference for
R4); with `clock = "meter"` "now" is the newest meter time seen (replays, demos). Hooks
(`after_commit`, `on_tick`) let the release machinery and the status writer plug in without this
module knowing them.

Truthful storage: an engine checkpoint is written only in the transaction that also holds every
closure it implies. When a commit fails (disk full, database locked) the closures are kept in
memory and retried with backoff under a `store` alarm, and nothing is reported as committed;
after `store_give_up_s` of failing the agent stops non-zero. So the stored checkpoint never
runs ahead of the stored data, and a restart re-settles from what is really on disk.

Supervision: `health` is the board of alarms and component states that every worker thread
reports to (edge.supervisor); a fatal report stops the loop with exit code 1, for systemd.
"""

from __future__ import annotations

import contextlib
import gc
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
from edge.clock import clock_trusted
from edge.config import Config
from edge.config.model import Clock
from edge.config.points import FileSource as FileSourceConfig
from edge.config.points import MBusSource
from edge.ingest import Ingestor, PointFeed, interval_for
from edge.p1 import Telegram
from edge.registers import Closed, MeterEngine
from edge.store import DataDirLock, connect
from edge.store.registers import commit_closed, load_checkpoints, stored_until
from edge.supervisor import Health

if TYPE_CHECKING:
    from edge.web.server import WebServer

LOG: Final = logging.getLogger("edge.agent")
TICK_S: Final = 1.0
STORE_ALARM: Final = "store"
STORE_RETRY_MAX_S: Final = 30.0
# Batches waiting for the main loop. A replay's batch is a 4 MiB chunk (one commit, one fsync,
# per batch rather than per quarter-hour read): a few in flight bound the memory of decoded
# telegrams; a live line's batches are tiny and never fill it.
QUEUE_BATCHES: Final = 8
# Live lines' batches (a telegram or two each) waiting for the tick: six meters fill a few a
# second; the bound holds a stalled main loop's backlog (the readers then wait, as for a capture).
LIVE_BATCHES: Final = 256
# ... but a backlog this deep wakes the main loop at once: a line faster than a meter (the
# demo's simulator at thousands of times real time, a burst after a stall) is handled as it
# comes, not 256 batches a second while the line drops what is not read.
LIVE_WAKE_AT: Final = 32
GC_YOUNG: Final = 20_000  # allocations between young-generation collections (Python: 700)
# A live quarter-hour's closures wait this long at most for the other meters' closures of the
# same boundary, so that six meters make one commit (one fsync, a few pages) and not six: a
# DSMR 5 meter closes within a second of the others, a DSMR 4 one within its 10 s interval.
GATHER_S: Final = 12.0


LIVE_BACKLOG: Final = SourceBatch("", (), 0.0)  # on the main queue: the live lines are behind


class LiveQueue(queue.Queue[SourceBatch]):
    """The live lines' batches, waiting for the tick; past `LIVE_WAKE_AT` of them, one
    `LIVE_BACKLOG` marker on the main queue wakes the loop to handle them now."""

    def __init__(self, main: queue.Queue[SourceBatch]) -> None:
        super().__init__(maxsize=LIVE_BATCHES)
        self._main = main
        self._woken = False

    def put(self, item: SourceBatch, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        if self.qsize() >= LIVE_WAKE_AT and not self._woken:
            self._woken = True
            with contextlib.suppress(queue.Full):  # a full main queue wakes the loop anyway
                self._main.put_nowait(LIVE_BACKLOG)

    def get_nowait(self) -> SourceBatch:
        self._woken = False
        return super().get_nowait()


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
        # one agent per data directory (a second one exits 2 with the holder's pid)
        self.lock = DataDirLock(config.gateway.data_dir) if conn is None else None
        try:
            self.conn = conn or connect(config.gateway.data_dir)
        except BaseException:
            if self.lock is not None:
                self.lock.release()
            raise
        self.queue: queue.Queue[SourceBatch] = queue.Queue(maxsize=QUEUE_BATCHES)  # captures
        self.live_queue: queue.Queue[SourceBatch] = LiveQueue(self.queue)  # lines
        self.hooks = AgentHooks()
        self.status_parts: dict[str, Callable[[], object]] = {}  # extra sections of status.json
        self.health = Health()
        self.status_files = status.StatusFiles(config.gateway.data_dir, status.runtime_dir())
        self._unstored: list[Closed] = []  # closures whose commit failed, retried in order
        self._gathered: list[Closed] = []  # live closures waiting for the other meters'
        self._gather_until = 0.0
        self.gather_s = GATHER_S
        self._store_retry_at = 0.0
        self._store_delay = 1.0
        self._store_failing_since: float | None = None
        # failing commits this long: stop (systemd restarts a live agent; a replay reports)
        self.store_give_up_s = 30.0 if until_eof else 300.0
        self._stored_until = stored_until(self.conn)
        self.clock_trusted = True  # see edge.clock; read by the release service
        self.stop_event = threading.Event()
        self._replay = sources is not None  # a replay serves no page
        self._source_urls = sources or self._configured_sources()
        # the points read from a line (not a `file:` capture): their batches wait for the tick
        # and their closures are gathered
        self._live = {ap for ap, urls in self._source_urls.items() if not _capture(urls[0])}
        self.sources: dict[str, list[SourceWorker]] = {}
        self.last_telegram: dict[str, Telegram] = {}  # per source, for the detected dialect
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
                feeds.append(PointFeed(point.ean, point.ean, capture=_capture(urls[0])))
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
                worker = make_source(
                    ap,
                    url,
                    self.queue if _capture(url) else self.live_queue,
                    dialect=str(point.dialect),
                    key=point.key,
                    auth_key=point.auth_key,
                    local_tz=self.tz,
                )
                worker.health = self.health
                workers.append(worker)
            self.sources[ap] = workers
            self._reading[ap] = 0
            workers[0].start()  # captures of one point are read one after the other

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped; returns the process exit code."""
        self._install_signals()
        self._start_sources()
        # What start-up built (modules, configuration, engines) lives as long as the process:
        # out of the collector's full passes, which otherwise rescan it all while a replay's
        # telegrams come and go (~a tenth of a replay's CPU) and now and then on a Pi.
        gc.freeze()
        # The hot path makes no reference cycles (telegrams and closures are freed by their
        # counts): a young-generation pass every 700 allocations only rescans queued telegrams.
        gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
        LOG.info("agent %s started with %d sources", self.config.gateway.id, len(self.sources))
        next_tick = 0.0
        web = None
        try:
            web = self._start_web()
            while not self.stop_event.is_set():
                if self.health.fatal is not None:
                    self.exit_code = self.exit_code or 1
                    break
                # one blocking wait until the next tick: no polling wake-ups between
                batch = self._next_batch(next_tick - time.monotonic())
                if batch is LIVE_BACKLOG:
                    self._drain_live()
                elif batch is not None:
                    self._handle(batch)
                if time.monotonic() >= next_tick:
                    self._drain_live()
                    self._tick()
                    next_tick = time.monotonic() + TICK_S
                if self.until_eof and self.all_read():
                    self._tick(final=True)
                    if not self._unstored:  # else: retried with backoff, or given up
                        break
        except Exception:
            LOG.exception("agent: the main loop failed")
            self.exit_code = 1
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

    def _next_batch(self, timeout: float) -> SourceBatch | None:
        try:
            if timeout <= 0:
                return self.queue.get_nowait()
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _drain_live(self) -> None:
        """Handle the live lines' batches that arrived since the last tick, in their order
        (at most a queue's worth: a line that never pauses cannot hold the tick back)."""
        for _ in range(LIVE_BATCHES):
            try:
                batch = self.live_queue.get_nowait()
            except queue.Empty:
                return
            self._handle(batch)

    def _handle(self, batch: SourceBatch) -> None:
        telegrams = [e for e in batch.events if isinstance(e, Telegram)]
        if telegrams:
            self.last_telegram[batch.source] = telegrams[-1]
        received = None
        live = batch.source in self._live
        # An unsynchronised clock is no reference for the meter's (no R4 judgement on it).
        if self.config.gateway.clock is Clock.SYSTEM and live and self.clock_trusted:
            received = int(time.time() - (time.monotonic() - batch.received_monotonic))
        closed = self.ingestor.feed(batch.source, telegrams, received)
        # live views see the telegrams before their closures: a quarter's last telegrams are
        # judged against the month as it stood (the peak warning); the store is read after
        # the commit (`after_commit`)
        for hook in self.hooks.on_telegrams:
            self._call(hook, batch.source, telegrams)
        if batch.eof:
            closed += self.ingestor.source_ended(batch.source)  # what the time gate still held
            self._next_capture(batch.source)
        if live and not batch.eof:
            self._gather(closed)
        else:
            self._commit(closed)

    def _gather(self, closed: list[Closed]) -> None:
        """Hold a live meter's closures until every live meter has closed that boundary (or
        `gather_s` passed: a silent meter does not hold the others back). A power cut while
        they wait costs what it costs before any commit: the engines restart from the last
        checkpoint and settle the boundary from the next telegram (interpolated)."""
        if closed:
            if not self._gathered:
                self._gather_until = time.monotonic() + self.gather_s
            self._gathered += closed
        if self._gathered and (
            time.monotonic() >= self._gather_until or self._every_live_meter_closed()
        ):
            self._commit([])

    def _every_live_meter_closed(self) -> bool:
        newest = max(c.boundary.utc for c in self._gathered)
        for ap in self._live:
            engine = self.ingestor.engines.get(ap)
            if engine is None:
                continue
            if engine.pending is not None and engine.pending <= newest:
                return False  # this meter has not reached the boundary yet
        return True

    def _next_capture(self, ap: str) -> None:
        workers = self.sources.get(ap, [])
        position = self._reading.get(ap, 0) + 1
        if position < len(workers):
            self._reading[ap] = position
            workers[position].start()

    def _tick(self, *, final: bool = False) -> None:
        now = self._now()
        system = self.config.gateway.clock is Clock.SYSTEM
        self._judge_clock(now)
        # Silence settles boundaries as missing only against a clock that runs for every meter:
        # the gateway's, and only while it is believable. Meter time comes from each source at
        # its own pace (replays read as fast as they can), so there the newest meter time would
        # wrongly condemn a meter that is merely behind; it is used once, when every capture
        # has been read.
        if now and (final or (system and self.clock_trusted)):
            self._commit(self.ingestor.advance(now))
        elif self._unstored and time.monotonic() >= self._store_retry_at:
            self._commit([])
        elif self._gathered:
            self._gather([])
        for hook in self.hooks.on_tick:
            self._call(hook, now)
        self._maybe_write_status()

    def _judge_clock(self, now: int) -> None:
        if self.config.gateway.clock is not Clock.SYSTEM:
            return
        trusted = clock_trusted(now, self._stored_until)
        if trusted != self.clock_trusted:
            self.clock_trusted = trusted
            if trusted:
                self.health.clear("clock")
            else:
                self.health.alarm(
                    "clock", "system clock not synchronised (before the build date or the data)"
                )

    def _maybe_write_status(self) -> None:
        """Rewrite the status files that are due (`status.StatusFiles`: on change, RAM often)."""
        seen = (self.health.version, status.source_states(self))
        if self.status_files.due(seen, time.monotonic()):
            self.write_status(everywhere=False)

    def write_status(self, *, everywhere: bool = True) -> None:
        """Rewrite `status.json` (data dir and runtime dir; an unwritable one is an alarm)."""
        try:
            self.status_files.write(status.snapshot(self), time.monotonic(), everywhere=everywhere)
        except OSError as exc:
            self.health.alarm("status-file", f"cannot write status.json: {exc}")
        else:
            self.health.clear("status-file")

    def _call(self, hook: Callable[..., None], *args: object) -> None:
        """A hook's database trouble is transient (alarm, next tick again); a bug is fatal."""
        try:
            hook(*args)
        except sqlite3.Error as exc:
            self.health.alarm(STORE_ALARM, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            LOG.exception("agent: a hook failed")
            self.health.die(f"{getattr(hook, '__qualname__', hook)}: {exc}")

    def _now(self) -> int:
        if self.config.gateway.clock is Clock.METER:
            self.now = max(self.now, self.ingestor.latest)
        else:
            self.now = int(time.time())
        return self.now

    def _commit(self, closed: list[Closed]) -> None:
        """Store `closed` (after any earlier closures still unstored or gathered) with the
        checkpoints."""
        if self._gathered:
            closed, self._gathered = self._gathered + closed, []
        pending = self._unstored + closed if self._unstored else closed
        if not pending:
            return
        if self._unstored and time.monotonic() < self._store_retry_at:
            self._unstored = pending  # backing off: keep them, in order, for the retry
            return
        checkpoints = {ap: engine.checkpoint() for ap, engine in self.ingestor.engines.items()}
        try:
            commit_closed(self.conn, pending, checkpoints)
        except sqlite3.Error as exc:
            self._unstored = pending
            self._store_failed(exc, len(pending))
            return
        if self._unstored:
            LOG.info("store: %d closures stored after the retry", len(pending))
            self._unstored = []
            self._store_failing_since = None
            self._store_delay = 1.0
            self.health.clear(STORE_ALARM)
        self._stored_until = max(self._stored_until or 0, max(c.boundary.utc for c in pending))
        now = self._now()
        for hook in self.hooks.after_commit:
            self._call(hook, pending, now)

    def _store_failed(self, exc: sqlite3.Error, count: int) -> None:
        mono = time.monotonic()
        if self._store_failing_since is None:
            self._store_failing_since = mono
        text = f"commit failed ({exc}); {count} closures kept in memory, retrying"
        self.health.alarm(STORE_ALARM, text)
        if mono - self._store_failing_since >= self.store_give_up_s:
            self.health.die(f"store: {exc}")
        self._store_retry_at = mono + self._store_delay
        self._store_delay = min(self._store_delay * 2, STORE_RETRY_MAX_S)

    def all_read(self) -> bool:
        """Every `file:` capture read AND every batch of it handled (nothing left queued)."""
        workers = [w for ws in self.sources.values() for w in ws]
        files = [w for w in workers if _capture(w.url)]
        return bool(files) and all(w.eof for w in files) and self.queue.empty()
        # (live lines never end: their queue is no reason to wait)

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
        if self.exit_code == 0 and self.health.fatal is None:
            # what the lines said since the last tick (their readers have ended) goes into
            # the engines, and so into the checkpoint below
            try:
                self._drain_live()
            except Exception:
                LOG.exception("agent: handling the last live batches failed")
                self.exit_code = 1
        # Keep what the open intervals have seen: a restart continues mid-quarter. The
        # checkpoint goes only together with every closure it implies, or not at all.
        checkpoints = {ap: engine.checkpoint() for ap, engine in self.ingestor.engines.items()}
        self._unstored, self._gathered = self._unstored + self._gathered, []
        try:
            commit_closed(self.conn, self._unstored, checkpoints)
            self._unstored = []
        except sqlite3.Error as exc:
            LOG.error(
                "store: %d closures and the engines' state could not be stored (%s); the "
                "database keeps its last committed state",
                len(self._unstored),
                exc,
            )
            self.exit_code = self.exit_code or 1
        for hook in self.hooks.on_stop:
            self._call(hook)
        self._check_drained()
        if self.health.fatal is not None:
            self.exit_code = self.exit_code or 1
        self.stopped = True
        self.write_status()
        if self.lock is not None:
            self.lock.release()
        LOG.info("agent stopped (exit %d)", self.exit_code)

    def _check_drained(self) -> None:
        """`--until-eof` never ends with 0 while blocks wait for delivery."""
        if not self.until_eof or self.config.grid is None:
            return
        try:
            (left,) = self.conn.execute("SELECT count(*) FROM outbox").fetchone()
        except sqlite3.Error as exc:
            LOG.error("store: cannot count the outbox: %s", exc)
            self.exit_code = self.exit_code or 1
            return
        if left:
            LOG.error("%d blocks are still queued for the grid operator: not delivered", left)
            self.exit_code = self.exit_code or 1

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


def _capture(url: str) -> bool:
    """A `file:` capture (read to its end, in meter time), not a live line."""
    return url.startswith("file:")
