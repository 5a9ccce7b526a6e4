"""The serial read path on real ptys: a wait that ends at bytes, at the silence deadline or at a
stop, and a telegram handed over in pieces delivered whole."""

from __future__ import annotations

import os
import queue
import threading
import time
import tty
from collections.abc import Iterator

import pytest
import serial

from edge.adapters.source_read import LineReader, Waker
from edge.adapters.sources import SerialSource, SourceBatch, SystemClock
from edge.p1 import decode
from firmware_sim.api import render
from tests.adapters.conftest import PATIENCE_S, at_least, collect, telegrams, wait_for


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    """A raw pseudo-terminal: (master fd to write the meter's bytes, slave path to read)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def _telegrams(n: int) -> list[bytes]:
    return list(render("dsmr5", start="2026-06-01T12:00:00+02:00", duration=f"{n}s").telegrams)


def test_a_read_returns_the_bytes_at_once_and_b_empty_on_a_wake(pty: tuple[int, str]) -> None:
    master, path = pty
    waker = Waker()
    port = serial.serial_for_url(path)
    try:
        reader = LineReader(port, waker)
        assert reader.waits_for_stop
        os.write(master, b"/ABC5\r\n")
        assert reader.read(PATIENCE_S) == b"/ABC5\r\n"
        threading.Timer(0.05, waker.wake).start()
        started = time.monotonic()
        assert reader.read(PATIENCE_S) == b""  # the wake ended a wait that had no deadline near
        assert time.monotonic() - started < PATIENCE_S
        assert reader.read(0) == b""  # a wake is remembered until cleared
        waker.clear()
        assert reader.read(0.01) == b""  # the timeout, nothing there
    finally:
        port.close()
        waker.close()
    waker.wake()  # after close: a no-op, never an error (a stop racing the thread's end)


def test_a_stop_ends_a_wait_that_only_the_silence_deadline_would_end(pty: tuple[int, str]) -> None:
    _master, path = pty
    sink: queue.Queue[SourceBatch] = queue.Queue()
    # silent after 3 x 100 s: only the stop can end the reader's wait within the test
    src = SerialSource("main", path, sink, dialect="dsmr5", interval_s=100)
    src.start()
    wait_for(lambda: src.status().state == "connected")
    time.sleep(0.2)  # let the thread block in its wait (stopping earlier must work as well)
    started = time.monotonic()
    assert src.stop(timeout=PATIENCE_S)
    assert time.monotonic() - started < 5  # far below the 300 s the wait was allowed
    assert src.status().state == "stopped"


def test_a_silent_pty_is_judged_silent_at_its_threshold_on_the_real_clock(
    pty: tuple[int, str],
) -> None:
    master, path = pty
    sink: queue.Queue[SourceBatch] = queue.Queue()
    src = SerialSource("main", path, sink, dialect="dsmr5", interval_s=0.2)  # silent at 0.6 s
    src.start()
    try:
        for telegram in _telegrams(3):
            os.write(master, telegram)
        assert len(telegrams(collect(sink, at_least(3)))) == 3
        spoke = time.monotonic()
        wait_for(lambda: "silent" in (src.status().last_error or ""))
        # judged after the threshold, not before (the reader's wait ends at the deadline)
        assert time.monotonic() - spoke >= 0.6 - 0.05
        status = src.status()
        assert status.last_error is not None and "no telegram for 0.6 s" in status.last_error
        # the line talks again: it is reopened and read (a telegram sent while the port is
        # closed between sessions is lost, as on a real line: send until one arrives)
        telegram, deadline, got = _telegrams(1)[0], time.monotonic() + PATIENCE_S, []
        while not got:
            assert time.monotonic() < deadline, "never read again after the silence"
            os.write(master, telegram)
            got = telegrams(_drain(sink))
        assert src.status().reconnects >= 1
    finally:
        assert src.stop(timeout=PATIENCE_S)


def _drain(sink: queue.Queue[SourceBatch], wait: float = 0.3) -> list[SourceBatch]:
    batches = []
    try:
        while True:
            batches.append(sink.get(timeout=wait))
    except queue.Empty:
        return batches


def test_a_telegram_handed_over_in_pieces_is_delivered_whole(pty: tuple[int, str]) -> None:
    master, path = pty
    sink: queue.Queue[SourceBatch] = queue.Queue()
    src = SerialSource("main", path, sink, dialect="dsmr5")
    src.start()
    try:
        wait_for(lambda: src.status().state == "connected")
        sent = _telegrams(2)
        for telegram in sent:
            for start in range(0, len(telegram), 100):  # a USB adapter's 16 ms pieces
                os.write(master, telegram[start : start + 100])
                time.sleep(0.01)
        got = telegrams(collect(sink, at_least(2)))
        assert [t.timestamp for t in got] == [t.timestamp for t in decode(b"".join(sent))]
        status = src.status()
        assert (status.telegrams, status.errors, status.crc_errors) == (2, 0, 0)
    finally:
        assert src.stop(timeout=PATIENCE_S)


class _CountingClock(SystemClock):
    """The real clock, counting the waits for a frame's rest to gather."""

    def __init__(self) -> None:
        self.gathers = 0

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        self.gathers += 1
        return super().wait(seconds, stop)


def test_a_backlog_is_read_on_without_waiting_for_frames_to_gather(pty: tuple[int, str]) -> None:
    # A replay over a pty at full speed: every read ends mid-frame with the rest already
    # waiting. Waiting to gather there made 2 000 telegrams take minutes (one wait per read).
    master, path = pty
    clock = _CountingClock()
    sink: queue.Queue[SourceBatch] = queue.Queue()
    src = SerialSource("main", path, sink, dialect="dsmr5", clock=clock)
    src.start()
    try:
        wait_for(lambda: src.status().state == "connected")
        sent = b"".join(_telegrams(2000))
        writer = threading.Thread(target=_write_all, args=(master, sent))
        writer.start()
        got = telegrams(collect(sink, at_least(2000), patience=120))
        writer.join(PATIENCE_S)
        assert len(got) == 2000
        # ~370 reads of a full pty buffer; a wait is only right where the writer lagged
        assert clock.gathers < 100, clock.gathers
    finally:
        assert src.stop(timeout=PATIENCE_S)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
