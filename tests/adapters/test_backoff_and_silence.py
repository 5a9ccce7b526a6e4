"""Backoff and silence on an injected clock: no wall-clock sleeping, exact delays."""

from __future__ import annotations

import logging
import os
import queue
import re
import tty
from collections.abc import Iterator

import pytest

from edge.adapters.source_lines import Backoff, preset_for, wrong_line
from edge.adapters.sources import SerialSource, SourceBatch
from tests.adapters.conftest import PATIENCE_S, FakeClock, closed_tcp_port


def _retries(caplog: pytest.LogCaptureFixture) -> list[float]:
    found = (re.search(r"retry in ([\d.]+) s", r.getMessage()) for r in caplog.records)
    return [float(m.group(1)) for m in found if m]


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    backoff = Backoff()
    assert [backoff.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_a_refused_port_is_retried_1_2_4_to_30_s(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge.source")
    clock = FakeClock(limit=8)
    url = f"socket://127.0.0.1:{closed_tcp_port()}"
    src = SerialSource("ev", url, queue.Queue(), dialect="dsmr5", clock=clock)
    src.start()
    assert clock.done.wait(PATIENCE_S)
    assert src.stop(timeout=5)
    assert clock.waits == [1, 2, 4, 8, 16, 30, 30, 30]
    assert _retries(caplog) == [1, 2, 4, 8, 16, 30, 30, 30]
    status = src.status()
    assert (status.state, status.reconnects, status.telegrams) == ("stopped", 0, 0)
    assert status.last_error is not None and "open failed" in status.last_error
    # One line per state change: connecting and backoff per attempt, then stopped.
    states = [r.getMessage().split(": ")[1].split(" ")[0] for r in caplog.records]
    assert states == ["connecting", "backoff"] * 8 + ["stopped"]


@pytest.fixture
def silent_pty() -> Iterator[str]:
    """A real pseudo-terminal that nobody writes to."""
    master, slave = os.openpty()
    tty.setraw(slave)
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_a_silent_port_is_reopened_after_3_intervals_with_backoff(
    silent_pty: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.source")
    clock = FakeClock(tick=0.5, limit=3)  # every reading of the clock is half a second later
    sink: queue.Queue[SourceBatch] = queue.Queue()
    src = SerialSource("main", silent_pty, sink, dialect="dsmr5", read_timeout=0.01, clock=clock)
    src.start()
    assert clock.done.wait(PATIENCE_S)
    assert src.stop(timeout=5)
    silent = [r.getMessage() for r in caplog.records if "silent" in r.getMessage()]
    assert len(silent) == 3 and all("no telegram for 3 s" in m for m in silent)
    assert _retries(caplog) == [1, 2, 4]
    status = src.status()
    assert status.reconnects == 2 and status.state == "stopped" and sink.empty()


def test_the_silence_threshold_follows_the_dialect_or_the_setting(
    silent_pty: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.source")
    clock = FakeClock(tick=1.0, limit=1)
    src = SerialSource("gas", silent_pty, queue.Queue(), dialect="dsmr4", interval_s=2.5,
                       read_timeout=0.01, clock=clock)  # fmt: skip
    src.start()
    assert clock.done.wait(PATIENCE_S)
    assert src.stop(timeout=5)
    assert any("no telegram for 7.5 s" in r.getMessage() for r in caplog.records)
    assert preset_for("dsmr4").interval_s == preset_for("dsmr22").interval_s == 10
    assert preset_for("dsmr5").interval_s == preset_for("fluvius").interval_s == 1


def test_wrong_line_needs_enough_bytes_and_no_frame() -> None:
    assert not wrong_line(received=1000, high_bit=1000, frames=0)  # too early to judge
    assert wrong_line(received=2048, high_bit=600, frames=0)  # parity bits in bit 7
    assert not wrong_line(received=2048, high_bit=10, frames=0)  # maybe just a long telegram
    assert wrong_line(received=8192, high_bit=0, frames=0)  # no frame at all in 8 KiB
    assert not wrong_line(received=100_000, high_bit=50_000, frames=1)  # frames: settings fit


def test_every_configurable_dialect_has_a_line_preset() -> None:
    from edge.adapters.source_lines import preset_for
    from edge.config.points import Dialect

    for dialect in Dialect:
        assert preset_for(dialect.value).dialect == dialect.value
