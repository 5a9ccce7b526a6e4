"""Helpers for the source tests: the firmware simulator as a subprocess, a test clock, draining."""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from edge.adapters.sources import SourceBatch
from edge.p1 import Telegram

SIM = [sys.executable, "-m", "firmware_sim", "run", "--seed", "1", "--profile", "household"]
START = "2026-03-28T00:00:00+01:00"
# Upper bounds for things that normally take milliseconds: generous so a slow machine passes.
PATIENCE_S = 20.0


@dataclass
class Sim:
    """A running simulator and the `port: …` lines it announced (with their arrival times)."""

    proc: subprocess.Popen[bytes]
    announced: list[tuple[float, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def address(self) -> str:
        with self._lock:
            return self.announced[0][1]

    def announcements(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.announced)

    def follow(self) -> None:
        """Record every later announcement (an unplug announces the port again)."""
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode().strip()
            if line.startswith("port"):
                with self._lock:
                    self.announced.append((time.monotonic(), line.split(": ", 1)[1]))


@pytest.fixture
def simulator() -> Iterator[Callable[..., Sim]]:
    """Starts `firmware_sim run ARGS` and waits for its first port announcement."""
    started: list[Sim] = []

    def start(*args: str) -> Sim:
        proc = subprocess.Popen([*SIM, "--start", START, *args], stdout=subprocess.PIPE)
        sim = Sim(proc)
        started.append(sim)
        assert proc.stdout is not None
        first = proc.stdout.readline().decode().strip()
        assert first.startswith("port: "), first
        sim.announced.append((time.monotonic(), first.removeprefix("port: ")))
        threading.Thread(target=sim.follow, daemon=True).start()
        return sim

    yield start
    for sim in started:  # only the simulators this test started, by their own handle
        sim.proc.kill()
        sim.proc.wait(timeout=10)
        if sim.proc.stdout:
            sim.proc.stdout.close()


class FakeClock:
    """Monotonic time that moves only when told: `tick` per reading, and by every wait.

    `waits` records each wait; after `limit` waits the clock sets the stop event it was given,
    which is how a test ends a source's run without any wall-clock sleeping.
    """

    def __init__(self, tick: float = 0.0, limit: int = 10) -> None:
        self.now = 1000.0
        self.tick = tick
        self.limit = limit
        self.waits: list[float] = []
        self.done = threading.Event()
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            self.now += self.tick
            return self.now

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        with self._lock:
            self.waits.append(seconds)
            self.now += seconds
            if len(self.waits) >= self.limit:
                stop.set()
                self.done.set()
        return stop.is_set()


def collect(
    sink: queue.Queue[SourceBatch],
    until: Callable[[list[SourceBatch]], bool],
    patience: float = PATIENCE_S,
) -> list[SourceBatch]:
    """Batches from `sink` until `until(batches)` holds; fails after `patience` seconds."""
    batches: list[SourceBatch] = []
    deadline = time.monotonic() + patience
    while not until(batches):
        assert time.monotonic() < deadline, f"gave up after {len(batches)} batches"
        try:
            batches.append(sink.get(timeout=0.1))
        except queue.Empty:
            continue
    return batches


def telegrams(batches: list[SourceBatch]) -> list[Telegram]:
    return [e for b in batches for e in b.events if isinstance(e, Telegram)]


def at_least(n: int) -> Callable[[list[SourceBatch]], bool]:
    return lambda batches: len(telegrams(batches)) >= n


def wait_for(condition: Callable[[], bool], patience: float = PATIENCE_S) -> None:
    deadline = time.monotonic() + patience
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def closed_tcp_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
