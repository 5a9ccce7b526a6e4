"""Serial sources on real ports: the simulator's pty and TCP server, and a pty of our own."""

from __future__ import annotations

import itertools
import os
import queue
import threading
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.adapters.source_lines import FAST_8N1, SLOW_7E1
from edge.adapters.sources import SerialSource, SourceBatch, make_source
from edge.errors import ConfigError
from tests.adapters.conftest import Sim, at_least, collect, telegrams, wait_for

Simulator = Callable[..., Sim]


@pytest.fixture
def sources() -> Iterator[list[SerialSource]]:
    started: list[SerialSource] = []
    yield started
    for src in started:
        assert src.stop(timeout=5), f"{src.name} did not stop"


def _start(
    sources: list[SerialSource], url: str, sink: queue.Queue[SourceBatch], **kw: object
) -> SerialSource:
    src = SerialSource("main", url, sink, **kw)  # type: ignore[arg-type]
    sources.append(src)
    src.start()
    return src


def test_reads_consecutive_telegrams_from_the_simulator_pty(
    simulator: Simulator, sources: list[SerialSource]
) -> None:
    sim = simulator("--dialect", "dsmr5", "--duration", "2h", "--speed", "max", "--port", "pty")
    assert sim.address.startswith("/dev/")
    sink: queue.Queue[SourceBatch] = queue.Queue()
    src = make_source("main", sim.address, sink, dialect="dsmr5")
    assert isinstance(src, SerialSource)
    sources.append(src)
    src.start()
    got = telegrams(collect(sink, at_least(300)))
    stamps = [t.timestamp for t in got if t.timestamp is not None]
    # The open starts mid-stream; from the first whole telegram on, one per second, no gap.
    assert all((b - a).total_seconds() == 1 for a, b in itertools.pairwise(stamps))
    status = src.status()
    assert (status.state, status.line, status.reconnects) == ("connected", "115200 8N1", 0)
    assert status.telegrams >= 300 and status.last_meter_time is not None
    assert src.stop(timeout=5) and src.status().state == "stopped"


def test_reads_a_socket_url_served_by_the_simulator(
    simulator: Simulator, sources: list[SerialSource]
) -> None:
    sim = simulator("--dialect", "dsmr4", "--duration", "2h", "--speed", "max", "--port", "tcp:0")
    assert sim.address.startswith("socket://127.0.0.1:")
    sink: queue.Queue[SourceBatch] = queue.Queue()
    src = _start(sources, sim.address, sink, dialect="dsmr4")
    got = telegrams(collect(sink, at_least(50)))
    assert all(t.crc == "ok" for t in got)
    assert src.status().crc_errors == 0


def test_dsmr22_preset_and_auto_read_the_simulator(
    simulator: Simulator, sources: list[SerialSource]
) -> None:
    sim = simulator("--dialect", "dsmr22", "--duration", "2h", "--speed", "max", "--port", "pty")
    src = SerialSource("old", sim.address, queue.Queue(), dialect="dsmr22")
    port = src._open(SLOW_7E1)  # the preset reaches the port, with the data-request lines up
    try:
        assert (port.baudrate, port.bytesize, port.parity, port.dtr, port.rts) == (
            9600, 7, "E", True, True,
        )  # fmt: skip
    finally:
        port.close()
    sink: queue.Queue[SourceBatch] = queue.Queue()
    auto = _start(sources, sim.address, sink, dialect="auto")
    assert len(telegrams(collect(sink, at_least(5)))) >= 5
    assert auto.status().line == "115200 8N1"  # a pty ignores the baud rate: the first fits


def test_crc_errors_and_garbage_on_the_line_are_counted(
    simulator: Simulator, sources: list[SerialSource]
) -> None:
    sim = simulator("--dialect", "dsmr5", "--duration", "2h", "--speed", "max", "--port", "pty",
                    "--faults", "crc:0.2,pad_ff:0.2,noise:0.2")  # fmt: skip
    sink: queue.Queue[SourceBatch] = queue.Queue()
    src = _start(sources, sim.address, sink, dialect="dsmr5")
    wait_for(lambda: src.status().crc_errors >= 5 and src.status().skipped_bytes > 0)
    status = src.status()
    assert status.telegrams > 0 and status.state == "connected" and status.reconnects == 0


def test_unplug_reconnects_within_5_s_of_the_port_returning(
    simulator: Simulator, sources: list[SerialSource], tmp_path: Path
) -> None:
    link = tmp_path / "p1-main"
    # ×10: the 30 s unplug at 00:01 takes 3 wall seconds, 0.5 s after the start.
    sim = simulator("--dialect", "dsmr5", "--duration", "10m", "--speed", "10",
                    "--port", f"pty:{link}", "--start", "2026-03-28T00:00:55+01:00",
                    "--faults", "unplug:30s@00:01")  # fmt: skip
    sink: queue.Queue[SourceBatch] = queue.Queue()
    src = _start(sources, str(link), sink, dialect="dsmr5")
    wait_for(lambda: len(sim.announcements()) == 2)
    returned = sim.announcements()[1][0]
    # wait for the condition itself: "reconnected" is a state a loaded machine reaches later
    # than the counter (and a momentary state must never be asserted after the fact)
    wait_for(lambda: src.status().reconnects == 1 and src.status().state == "connected")
    assert src.status().last_error is not None
    after = telegrams(collect(sink, lambda b: any(
        t.timestamp and t.timestamp.minute == 1 and t.timestamp.second >= 30 for t in telegrams(b)
    )))  # fmt: skip
    assert after
    # Back within 5 s of the port's return (device polling makes it well under a second).
    assert src.status().last_received_monotonic is not None
    assert src.status().last_received_monotonic - returned < 5  # type: ignore[operator]


def _parity_7e1(data: bytes) -> bytes:
    """What an 8N1 port reads from a 7E1 line: the even-parity bit lands in bit 7."""
    return bytes(b | (0x80 if bin(b).count("1") % 2 else 0) for b in data)


@pytest.fixture
def seven_bit_meter() -> Iterator[str]:
    """A pty fed with a DSMR 4 fixture on a 7E1 line (the simulator speaks 8N1 only)."""
    telegram = _parity_7e1((Path(__file__).parent.parent / "data" / "v4_2.txt").read_bytes())
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)  # never block the writer on a reader that went away
    stop = threading.Event()

    def write() -> None:
        while not stop.wait(0.01):
            try:
                os.write(master, telegram)
            except OSError:  # buffer full: a real line drops bytes too
                continue

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    yield os.ttyname(slave)
    stop.set()
    writer.join(timeout=5)
    os.close(master)
    os.close(slave)


def test_dsmr4_falls_back_to_7e1_when_8n1_reads_high_bit_garbage(
    seven_bit_meter: str, sources: list[SerialSource]
) -> None:
    sink: queue.Queue[SourceBatch] = queue.Queue()
    src = _start(sources, seven_bit_meter, sink, dialect="dsmr4")
    got = telegrams(collect(sink, at_least(3)))
    assert got[0].header == "KFM5KAIFA-METER" and got[0].crc == "ok"
    status = src.status()
    # A pty refuses 7E1 after an 8N1 open, as some USB adapters do: read as 8N1, bit 7 cleared.
    assert status.line.startswith("115200 7E1") and status.last_error is not None
    assert "wrong-line" in status.last_error


def test_bad_urls_and_dialects_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="dialect"):
        make_source("x", "/dev/ttyUSB0", queue.Queue(), dialect="dsmr9")
    with pytest.raises(ConfigError, match="pyserial URL"):
        make_source("x", "nosuch://here", queue.Queue())
    with pytest.raises(ConfigError, match="M-Bus"):
        make_source("x", "mbus:871687120000000001:1", queue.Queue())
    assert str(FAST_8N1) == "115200 8N1"


def test_a_silent_meter_is_reopened_and_read_again_on_the_real_clock(
    simulator: Simulator, sources: list[SerialSource]
) -> None:
    # ×10: 0.1 s between telegrams, then 3 wall seconds of silence from 00:01 on.
    sim = simulator("--dialect", "dsmr5", "--duration", "10m", "--speed", "10", "--port", "pty",
                    "--start", "2026-03-28T00:00:55+01:00",
                    "--faults", "silence:30s@00:01")  # fmt: skip
    sink: queue.Queue[SourceBatch] = queue.Queue()
    src = _start(sources, sim.address, sink, dialect="dsmr5", interval_s=0.3)
    after = telegrams(collect(sink, lambda b: any(
        t.timestamp and t.timestamp.minute == 1 and t.timestamp.second >= 30 for t in telegrams(b)
    )))  # fmt: skip
    assert after
    status = src.status()
    assert status.reconnects >= 1 and status.last_error is not None
    assert "silent" in status.last_error or "lost" in status.last_error
