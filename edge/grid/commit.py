"""The collector's commit side: settle checked batches in the store, then acknowledge them.

Strategy: one thread commits while the caller's thread checks the next batch (the signature
checks are CPU work, a commit mostly waits for the disk or the PostgreSQL server). A batch's
messages are acknowledged only after its commit returned. When the store fails in a way that
may pass (the server restarting, the network, a lock held too long, a full disk: see
`edge.grid.store.failure_state`), the batch is kept, unacknowledged, and tried again on a new
connection with capped exponential backoff until it commits: the broker holds everything after
it (at most two batches wait here, then the caller stops taking more, and the broker's receive
maximum bounds what is in flight). The log gets one line when the trouble starts, one when its
kind changes and one when the store is back, never one per retry. A failure that cannot pass
(a schema newer than this code, a corrupt file, a programming error) ends the run with
`StoreFailure`; a run stopped while the store is away leaves the held blocks unacknowledged
(the persistent session brings them again) and counts them in `CollectSummary.left`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from edge.errors import EdgeError
from edge.grid.collector import Collected, Collector, gap_line
from edge.grid.store import Candidate, Rejection, failure_state

M = TypeVar("M")


class StoreFailure(EdgeError):
    """The store failed in a way retrying cannot fix; nothing uncommitted was acknowledged."""


@dataclass(slots=True)
class CollectSummary:
    """Counts of one collect run."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    reconnects: int = 0
    unacked: int = 0  # committed, but the connection was gone before the PUBACK
    stop_reason: str = ""
    store_outages: int = 0  # spells of store trouble waited out (or still on at the end)
    store_outage_seconds: float = 0.0
    left: int = 0  # received but not committed when the run ended (the store was away)


@dataclass(frozen=True, slots=True)
class Job(Generic[M]):
    """A checked batch: the received messages and what the checks made of each."""

    messages: list[M]
    items: list[Candidate | Rejection]


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class Outage:
    """One spell of store trouble: its kind, the failed attempts and the next wait."""

    def __init__(self, started: float, minimum: float, maximum: float) -> None:
        self.started, self.delay, self.maximum = started, minimum, maximum
        self.state: str | None = None
        self.attempts = 0

    def failed(self, state: str, exc: BaseException, held: int) -> str | None:
        """Count a failed attempt; the line to log if the kind of trouble changed, else None."""
        self.attempts += 1
        previous, self.state = self.state, state
        if previous is None:
            return (
                f"collect: store unavailable: {state} ({_short(exc)}); holding {held} blocks "
                f"unacknowledged, retrying with backoff (up to {self.maximum:g} s)"
            )
        if state != previous:
            return f"collect: store still unavailable, now {state} ({_short(exc)})"
        return None

    def next_wait(self) -> float:
        """Seconds to wait before the next attempt (doubling, capped)."""
        wait, self.delay = self.delay, min(self.delay * 2, self.maximum)
        return wait

    def ended(self, now: float) -> str:
        return (
            f"collect: store back after {now - self.started:.1f} s ({self.attempts} failed "
            f"attempt{'' if self.attempts == 1 else 's'}); committing the held blocks"
        )


class _Abandoned(Exception):
    """The run ends while the store is away: the batch stays unacknowledged."""


class Committer(Generic[M]):
    """Commits checked batches on its own thread, then acknowledges them (see the module)."""

    def __init__(
        self,
        collector: Collector,
        summary: CollectSummary,
        *,
        ack: Callable[[Sequence[M]], int],
        out: Callable[[str], None],
        note: Callable[[str], None],
        quiet: bool,
        stop: threading.Event,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
    ) -> None:
        self.collector, self.summary, self.ack = collector, summary, ack
        self.out, self.note, self.quiet = out, note, quiet
        self.stop, self.clock, self.monotonic = stop, clock, monotonic
        self.retry_min, self.retry_max = retry_min, retry_max
        self.closing = threading.Event()
        self.abandoning = False  # the run ends with the store away: the rest is not tried
        self.jobs: queue.Queue[Job[M] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="grid-commit", daemon=True)
        self.thread.start()

    def prepare(self, messages: list[M], pairs: list[tuple[str, bytes]]) -> Job[M] | None:
        """Check a batch (this thread: CPU work beside the commit); None when empty."""
        if not messages:
            return None
        return Job(messages, self.collector.examine(pairs))

    def offer(self, job: Job[M], timeout: float) -> bool:
        """Queue a checked batch; False when the committer is still busy after `timeout` s
        (the store is slow or away: the caller keeps the job and looks after its broker)."""
        self._raise()
        try:
            self.jobs.put(job, timeout=timeout)
        except queue.Full:
            return False
        return True

    def finish(self, *, raise_error: bool = True) -> None:
        """Commit what is queued (a store that is away is not waited for), then stop."""
        self.closing.set()
        if self.thread.is_alive():
            self.jobs.put(None)
            self.thread.join()
        if raise_error:
            self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise StoreFailure(f"the store failed: {_short(self.error)}") from self.error

    def _ending(self) -> bool:
        return self.closing.is_set() or self.stop.is_set()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                results = self._commit(job)
            except _Abandoned:
                self.summary.left += len(job.messages)
                continue
            except Exception as exc:  # a store failure must reach the caller, not end a thread
                self.error = exc
                while (rest := self.jobs.get()) is not None:  # let the caller's put()s through
                    self.summary.left += len(rest.messages)
                return
            # committed: only now may the broker forget them
            self.summary.unacked += self.ack(job.messages)
            self._count(results)

    def _commit(self, job: Job[M]) -> list[Collected]:
        if self.abandoning:
            raise _Abandoned
        outage: Outage | None = None
        while True:
            try:
                if outage is not None:
                    self.collector.store.reconnect()
                results = self.collector.settle(job.items, now=int(self.clock()))
            except Exception as exc:
                state = failure_state(exc)
                if state is None:
                    raise
                if outage is None:
                    outage = Outage(self.monotonic(), self.retry_min, self.retry_max)
                    self.summary.store_outages += 1
                line = outage.failed(state, exc, len(job.messages))
                if line is not None:
                    self.note(line)
                self._wait(outage.next_wait(), outage)
                continue
            if outage is not None:
                now = self.monotonic()
                self.summary.store_outage_seconds += now - outage.started
                self.note(outage.ended(now))
            return results

    def _wait(self, seconds: float, outage: Outage) -> None:
        end = self.monotonic() + seconds
        while not self._ending():
            left = end - self.monotonic()
            if left <= 0:
                return
            self.closing.wait(min(left, 0.2))  # `stop` is the caller's: look at it often
        self.summary.store_outage_seconds += self.monotonic() - outage.started
        self.note(f"collect: stopping while the store is unavailable ({outage.state})")
        self.abandoning = True
        raise _Abandoned

    def _count(self, results: list[Collected]) -> None:
        for result in results:
            if result.verdict == "stored":
                self.summary.stored += 1
            elif result.verdict == "duplicate":
                self.summary.duplicates += 1
            else:
                self.summary.rejected += 1
            if not self.quiet or result.verdict == "rejected":
                self.out(result.line())
            for gap in result.gaps:
                self.out(gap_line(gap))
