"""Real ports: a pty read by pyserial and by dsmr_parser's serial reader, TCP, file, replay."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from dsmr_parser import telegram_specifications as ts
from dsmr_parser.clients import SERIAL_SETTINGS_V5, SerialReader

from firmware_sim.api import render
from firmware_sim.ports import Pacer
from firmware_sim.replay import replay_items
from tests.sim.conftest import peer

RUN = [sys.executable, "-m", "firmware_sim", "run", "--dialect", "dsmr5", "--seed", "3"]


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:  # only the simulators this test started, by their own handle
        p.kill()
        p.wait(timeout=10)
        if p.stdout:
            p.stdout.close()


def _start(procs: list[subprocess.Popen[bytes]], *args: str) -> tuple[subprocess.Popen[bytes], str]:
    p = subprocess.Popen([*RUN, *args], stdout=subprocess.PIPE)
    procs.append(p)
    assert p.stdout is not None
    first = p.stdout.readline().decode()
    assert first.startswith("port: "), first
    return p, first.removeprefix("port: ").strip()


def _telegrams(read: bytes) -> list[bytes]:
    parts = read.split(b"/")[1:]
    return [b"/" + p for p in parts if p.endswith(b"\r\n")]


def _read_until(ser: serial.SerialBase, count: int) -> bytes:
    buf = b""
    while buf.count(b"!") < count + 1:
        chunk = ser.read(4096)
        assert chunk, "the simulator went silent"
        buf += chunk
    return buf


def test_pyserial_reads_valid_telegrams_from_the_pty(procs: list[subprocess.Popen[bytes]]) -> None:
    _, path = _start(procs, "--duration", "10m", "--port", "pty", "--speed", "max")
    assert path.startswith("/dev/pts/")
    with serial.Serial(path, 115200, timeout=10) as ser:
        tels = _telegrams(_read_until(ser, 5))
    assert len(tels) >= 5
    for raw in tels[:5]:
        peer("dsmr5").parse(raw.decode())
    assert tels[0] == render("dsmr5", seed=3, duration="10s").telegrams[0]


def test_dsmr_parser_serial_reader_reads_the_pty(procs: list[subprocess.Popen[bytes]]) -> None:
    _, path = _start(procs, "--duration", "10m", "--port", "pty", "--speed", "max")
    reader = SerialReader(device=path, serial_settings=SERIAL_SETTINGS_V5,
                          telegram_specification=ts.V5)  # fmt: skip
    got = []
    for telegram in reader.read():
        got.append(telegram)
        if len(got) == 3:
            break
    seconds = [int(t.P1_MESSAGE_TIMESTAMP.value.timestamp()) for t in got]
    assert seconds == [seconds[0], seconds[0] + 1, seconds[0] + 2]  # 1 telegram/s, none lost


def test_tcp_port_serves_a_pyserial_socket_client(procs: list[subprocess.Popen[bytes]]) -> None:
    _, url = _start(procs, "--duration", "10m", "--port", "tcp:0", "--speed", "max")
    assert url.startswith("socket://127.0.0.1:")
    ser = serial.serial_for_url(url, timeout=10)
    try:
        tels = _telegrams(_read_until(ser, 3))
    finally:
        ser.close()
    assert len(tels) >= 3 and all(peer("dsmr5").parse(t.decode()) for t in tels[:3])


def test_unplug_closes_the_pty_and_announces_a_new_one(
    procs: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    link = tmp_path / "meter"
    p, first = _start(procs, "--duration", "3m", "--port", f"pty:{link}", "--speed", "600",
                      "--faults", "unplug:30s@00:01")  # fmt: skip
    assert link.resolve() == Path(first)
    assert p.stdout is not None
    second = p.stdout.readline().decode()
    assert second.startswith("port: /dev/pts/")
    assert link.resolve() == Path(second.removeprefix("port: ").strip())


def test_cli_file_port_and_truth_equal_the_api(tmp_path: Path) -> None:
    out, truth = tmp_path / "day.p1", tmp_path / "truth.csv"
    args = ["--duration", "20m", "--gas", "--faults", "crc:0.1,power_failure:5m@00:05"]
    subprocess.run([*RUN, *args, "--port", f"file:{out}", "--truth", str(truth)], check=True)
    api = render("dsmr5", seed=3, duration="20m", gas=True, faults="crc:0.1,power_failure:5m@00:05")
    assert out.read_bytes() == api.data
    assert truth.read_text() == api.truth_csv() and len(api.truth) == 2  # 00:00 and 00:15


def test_cli_reports_bad_options_by_name() -> None:
    res = subprocess.run([*RUN, "--duration", "5x", "--port", "stdout"], capture_output=True)
    assert res.returncode == 2 and b"bad duration '5x'" in res.stderr


def test_replay_reproduces_the_capture_with_its_own_pace(tmp_path: Path) -> None:
    api = render("dsmr5", seed=4, duration="2m", faults="noise:0.2,glue:0.1")
    cap, out = tmp_path / "cap.p1", tmp_path / "out.p1"
    cap.write_bytes(api.data)
    items = list(replay_items(api.data))
    assert b"".join(i.data for i in items) == api.data
    assert items[0].t == api.times[0] and items[-1].t == api.times[-1]
    subprocess.run([sys.executable, "-m", "firmware_sim", "replay", str(cap), "--port",
                    f"file:{out}", "--speed", "max"], check=True)  # fmt: skip
    assert out.read_bytes() == api.data
    # Paced at ×60, two simulated minutes take two wall seconds (on an injected clock).
    now = [0.0]
    pacer = Pacer(60.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    for item in items:
        pacer.wait(item.t)
    assert abs(now[0] - (api.times[-1] - api.times[0]) / 60) < 1e-9
