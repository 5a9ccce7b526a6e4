"""The NOTIFY_SOCKET protocol (edge/adapters/systemd.py) against sockets the tests create.

A real `edge-agent run` subprocess sends READY=1, WATCHDOG=1 and STOPPING=1 to a datagram
socket the test binds, exactly as systemd's manager would receive them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.adapters import systemd
from firmware_sim.api import render_to_file
from tests.integration.helpers import PRIMARY, write_config


class Listener:
    """A bound AF_UNIX datagram socket playing systemd's side."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address  # as NOTIFY_SOCKET names it

    def messages(self) -> list[str]:
        """Every datagram received so far (non-blocking)."""
        out = []
        self.sock.setblocking(False)
        try:
            while True:
                out.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            return out


@pytest.fixture
def abstract() -> Iterator[Listener]:
    name = f"p1edge-test-{os.getpid()}-{os.urandom(4).hex()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        yield Listener(sock, "@" + name)


@pytest.fixture
def path_socket() -> Iterator[Listener]:
    # a short directory: socket paths are limited to 107 bytes, pytest's tmp_path can be longer
    with (
        tempfile.TemporaryDirectory(prefix="sdn") as folder,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
    ):
        path = os.path.join(folder, "notify")
        sock.bind(path)
        yield Listener(sock, path)


def test_notify_reaches_a_path_socket(path_socket: Listener) -> None:
    env = {"NOTIFY_SOCKET": path_socket.address}
    assert systemd.ready(env) and systemd.watchdog(env) and systemd.stopping(env)
    assert systemd.status("two\nlines", env)
    assert path_socket.messages() == ["READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=two lines"]


def test_notify_reaches_an_abstract_socket(abstract: Listener) -> None:
    assert systemd.notify("READY=1\nSTATUS=up", {"NOTIFY_SOCKET": abstract.address})
    assert abstract.messages() == ["READY=1\nSTATUS=up"]


@pytest.mark.parametrize("env", [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "relative/path"}])
def test_without_systemd_nothing_is_sent(env: dict[str, str]) -> None:
    assert systemd.notify("READY=1", env) is False


def test_a_socket_nobody_listens_on_is_not_an_error(tmp_path: Path) -> None:
    assert systemd.notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "gone")}) is False


def test_watchdog_interval_reads_usec_and_checks_the_pid() -> None:
    me = str(os.getpid())
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "60000000"}) == 60.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": me}) == 2.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}) is None
    for usec in ("", "0", "-5", "soon"):
        assert systemd.watchdog_interval({"WATCHDOG_USEC": usec}) is None


def test_the_notifier_pings_at_half_the_interval_only_while_ticked(abstract: Listener) -> None:
    moments = iter([100.0, 100.5, 101.0, 101.9, 102.0])
    env = {"NOTIFY_SOCKET": abstract.address, "WATCHDOG_USEC": "2000000"}
    notifier = systemd.SystemdNotifier(lambda: "fine", env, clock=lambda: next(moments))
    assert notifier.ping_every == 1.0
    for _ in range(5):
        notifier.tick()
    notifier.stop()
    assert abstract.messages() == [
        "READY=1",
        "WATCHDOG=1",  # 100.0
        "STATUS=fine",
        "WATCHDOG=1",  # 101.0; not at 100.5 nor 101.9
        "WATCHDOG=1",  # 102.0
        "STOPPING=1",
    ]
    # a main loop that stops ticking sends nothing more: systemd's timer runs out
    assert abstract.messages() == []


def test_without_watchdog_usec_there_are_no_pings(abstract: Listener) -> None:
    notifier = systemd.SystemdNotifier(lambda: "ok", {"NOTIFY_SOCKET": abstract.address})
    notifier.tick()
    notifier.tick()
    assert abstract.messages() == ["READY=1", "STATUS=ok"]


def test_a_real_agent_notifies_ready_watchdog_and_stopping(
    abstract: Listener, tmp_path: Path
) -> None:
    render_to_file(
        tmp_path / "main.cap", "dsmr5", start="2026-03-02T00:00:00+01:00", duration="6h",
        seed=3, interval=10,
    )  # fmt: skip
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    env = dict(os.environ, NOTIFY_SOCKET=abstract.address, WATCHDOG_USEC="2000000")
    result = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--config", str(config), "--until-eof"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "systemd watchdog: pinging every 1.0 s" in result.stderr
    lines = [line for message in abstract.messages() for line in message.splitlines()]
    assert lines[0] == "READY=1"
    assert "WATCHDOG=1" in lines
    assert any(line.startswith("STATUS=GW-TEST: 1/1 sources up") for line in lines), lines
    assert lines[-1] == "STOPPING=1"
    assert lines.count("READY=1") == 1 and lines.count("STOPPING=1") == 1


def test_outside_systemd_the_agent_runs_without_notifier(tmp_path: Path) -> None:
    render_to_file(tmp_path / "main.cap", "dsmr5", start="2026-03-02T00:00:00+01:00",
                   duration="1h", seed=4, interval=10)  # fmt: skip
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    result = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--config", str(config), "--until-eof"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "systemd watchdog" not in result.stderr and "agent stopped" in result.stderr
