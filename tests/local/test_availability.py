"""Availability per meter, for real: `edge-agent run` reads two simulated meters over
pseudo-terminals and publishes to a real mosquitto; a subscriber that reads the device configs
and follows their availability topics as Home Assistant does (`availability_mode: all`) sees a
meter whose line goes silent, and then one unplugged, turn unavailable within the silence
threshold — while the other meter stays available and keeps sending states."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.adapters.mqtt_blocking import BlockingClient
from edge.local.availability import silence_s
from tests.integration.helpers import PRIMARY, SECONDARY_EV, write_config
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()
SILENCE_S = silence_s("dsmr5")  # 3 telegram intervals of 1 s
TICK_S = 1.0  # the agent looks at its lines once a tick
# publishing, the broker and this subscriber, on a machine shared by several test runs
SLACK_S = 10.0
DEVICE_CONFIGS = "homeassistant/device/+/config"


class HomeAssistant:
    """Follows device configs and availability topics like Home Assistant's MQTT integration."""

    def __init__(self, client: BlockingClient) -> None:
        self.client = client
        self.availability: dict[str, list[str]] = {}  # device id -> its availability topics
        self.latest: dict[str, bytes] = {}  # availability topic -> newest payload
        self.states: dict[str, int] = {}  # state topic -> messages seen
        self.log: list[tuple[float, str, bytes]] = []  # (monotonic, topic, payload)

    def pump(self, timeout: float = 0.2) -> None:
        message = self.client.receive(timeout=timeout)
        if message is None:
            return
        self.log.append((time.monotonic(), message.topic, message.payload))
        if message.topic.startswith("homeassistant/device/") and message.payload:
            config = json.loads(message.payload)
            assert config["availability_mode"] == "all"
            topics = [entry["topic"] for entry in config["availability"]]
            device = message.topic.split("/")[2]
            if device not in self.availability:
                self.availability[device] = topics
                self.client.subscribe(*topics, config["state_topic"])
        elif message.topic.endswith("/availability"):
            self.latest[message.topic] = message.payload
        elif message.topic.endswith("/state"):
            self.states[message.topic] = self.states.get(message.topic, 0) + 1

    def available(self, device: str) -> bool:
        topics = self.availability.get(device)
        return bool(topics) and all(self.latest.get(t) == b"online" for t in topics or ())

    def wait(self, ready: object, timeout: float, what: str) -> float:
        """Pump until `ready()`; the seconds it took (the deadline only guards a failure)."""
        began = time.monotonic()
        while not ready():  # type: ignore[operator]
            assert time.monotonic() - began < timeout, f"not within {timeout:g} s: {what}"
            self.pump()
        return time.monotonic() - began


def simulator(link: Path, seed: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "firmware_sim", "run", "--dialect", "dsmr5", "--interval", "1",
         "--duration", "30m", "--seed", str(seed), "--speed", "1", "--port", f"pty:{link}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.fixture
def agent(broker: Broker, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], ...]]:
    extra = f'[local]\nbroker = "{broker.url}"\nlive_interval_s = 1\n'
    points = [
        (PRIMARY, "primary", str(tmp_path / "p1-main"), "dsmr5"),
        (SECONDARY_EV, "secondary", str(tmp_path / "p1-ev"), "dsmr5"),
    ]
    config = write_config(tmp_path, points, extra=extra)
    run = subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    main, ev = simulator(tmp_path / "p1-main", 1), simulator(tmp_path / "p1-ev", 2)
    try:
        yield run, main, ev
    finally:
        for process in (main, ev, run):
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)  # a stopped one cannot end otherwise
                process.terminate()
        for process in (main, ev, run):
            process.communicate(timeout=30)


def test_a_silent_then_unplugged_meter_turns_unavailable_the_other_stays(
    broker: Broker, agent: tuple[subprocess.Popen[str], ...]
) -> None:
    run, _main, ev = agent
    main_device, ev_device = f"p1edge_GW-TEST_{PRIMARY}", f"p1edge_GW-TEST_{SECONDARY_EV}"
    main_state = f"p1edge/local/GW-TEST/{PRIMARY}/state"
    with BlockingClient(broker.settings()) as client:
        ha = HomeAssistant(client)
        client.subscribe(DEVICE_CONFIGS)
        both = lambda: ha.available(main_device) and ha.available(ev_device)  # noqa: E731
        ha.wait(both, 90, "both meters available")
        since = len(ha.log)

        # the EV meter's line stays open but says nothing (its simulator is stopped)
        ev.send_signal(signal.SIGSTOP)
        took = ha.wait(lambda: not ha.available(ev_device), SILENCE_S + TICK_S + SLACK_S, "silent")
        assert took >= SILENCE_S - 1.5, took  # not before the threshold (a telegram's leeway)
        print(f"silent line: unavailable after {took:.1f} s (threshold {SILENCE_S:g} s)")
        # it stays so while the line is silent, though the source reopens its port meanwhile
        seen, until = ha.states.get(main_state, 0), time.monotonic() + 3 * SILENCE_S
        while time.monotonic() < until:
            ha.pump()
            assert not ha.available(ev_device)
        assert ha.states.get(main_state, 0) >= seen + 2 and ha.available(main_device)

        ev.send_signal(signal.SIGCONT)  # talking again: available again
        ha.wait(lambda: ha.available(ev_device), 60, "the EV meter back")

        # unplugged: the simulator ends, its pseudo-terminal closes
        ev.terminate()
        ev.communicate(timeout=30)
        took = ha.wait(
            lambda: not ha.available(ev_device), SILENCE_S + TICK_S + SLACK_S, "unplugged"
        )
        print(f"unplugged: unavailable after {took:.1f} s")
        seen = ha.states.get(main_state, 0)
        ha.wait(lambda: ha.states.get(main_state, 0) >= seen + 2, 30, "main meter's states")
        assert ha.available(main_device)
        main_topic = f"p1edge/local/GW-TEST/{PRIMARY}/availability"
        assert all(p == b"online" for _t, topic, p in ha.log[since:] if topic == main_topic)

        run.send_signal(signal.SIGTERM)  # the gateway stops: every meter unavailable
        ha.wait(lambda: not ha.available(main_device), 30, "the gateway's offline")
    assert run.wait(timeout=30) == 0
