"""The local connection against a real mosquitto: Home Assistant discovery (retained), live
states, the peak warning in a scripted busy quarter (and not in calm ones), availability."""

from __future__ import annotations

import json
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.adapters.mqtt_blocking import BlockingClient, Message
from edge.agent import Agent
from edge.config import load_config
from edge.local import LocalLink, attach_local
from edge.local.link import HA_STATUS, ONLINE
from tests.local.helpers import AP, device_components, scripted_capture, write_be_config
from tests.support.mosquitto import (
    SKIP_REASON,
    Broker,
    mosquitto_binary,
    mosquitto_fixture,
    running_broker,
)

broker = mosquitto_fixture()
BRUSSELS = ZoneInfo("Europe/Brussels")
START = int(datetime(2026, 3, 2, tzinfo=BRUSSELS).timestamp())  # nothing earlier this month
QUARTERS = [500, 800, 6000, 500]  # W: calm, calm, busy, calm
STATE = f"p1edge/local/GW-BE/{AP}/state"
AVAILABILITY = "p1edge/local/GW-BE/availability"
METER_AVAILABILITY = f"p1edge/local/GW-BE/{AP}/availability"


def drain(client: BlockingClient, until: tuple[str, bytes], timeout: float = 20.0) -> list[Message]:
    """Messages until (topic, payload) arrives (the deadline only guards a failure)."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = client.receive(timeout=0.5)
        if message is None:
            continue
        got.append(message)
        if (message.topic, message.payload) == until:
            return got
    pytest.fail(f"{until} did not arrive; got {[m.topic for m in got]}")


def run_agent(config_path: Path) -> None:
    """The agent in this process, started once its local link is up (a file replay is read
    in milliseconds, and live values are dropped while the broker is away, by design)."""
    agent = Agent(load_config(config_path), until_eof=True)
    try:
        service = attach_local(agent)
        link = service.link
        deadline = time.monotonic() + 20
        while not getattr(link, "connected", False):
            assert time.monotonic() < deadline, "the local link did not connect"
            time.sleep(0.02)
        assert agent.run() == 0
    finally:
        agent.conn.close()


@pytest.fixture(scope="module")
def published(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> list[Message]:
    directory = tmp_path_factory.mktemp("local")
    scripted_capture(directory / "meter.cap", START, QUARTERS)
    extra = f'\n[local]\nbroker = "{broker.url}"\nlive_interval_s = 60\n'
    config = write_be_config(directory, "file:meter.cap", dialect="dsmr5", extra=extra)
    with BlockingClient(broker.settings()) as watcher:
        watcher.subscribe("homeassistant/#", "p1edge/local/#")
        run_agent(config)
        return drain(watcher, (AVAILABILITY, b"offline"))


def states(messages: list[Message]) -> list[dict[str, object]]:
    return [json.loads(m.payload) for m in messages if m.topic == STATE]


def quarter_of(state: dict[str, object]) -> int:
    stamp = datetime.fromisoformat(str(state["time"]).replace("Z", "+00:00"))
    return (int(stamp.timestamp()) - START) // 900


def test_discovery_configs_are_retained_and_fit_the_energy_dashboard(
    broker: Broker, published: list[Message]
) -> None:
    with BlockingClient(broker.settings()) as late:  # subscribes after the agent has gone
        late.subscribe("homeassistant/#", "p1edge/local/#")
        retained: dict[str, Message] = {}
        while (message := late.receive(timeout=1.0)) is not None:
            retained[message.topic] = message
    assert retained[AVAILABILITY].payload == b"offline" and retained[AVAILABILITY].retain
    configs = {t: m for t, m in retained.items() if t.startswith("homeassistant/")}
    assert set(configs) == {
        f"homeassistant/device/p1edge_GW-BE_{AP}/config",
        f"homeassistant/device/p1edge_GW-BE_{AP}_gas/config",
    }  # one device per meter, and its gas meter
    assert all(m.retain for m in configs.values())
    by_key = device_components({t: m.payload for t, m in configs.items()})
    expected = {
        "import_t1_kwh": ("energy", "total_increasing", "kWh"),
        "export_t2_kwh": ("energy", "total_increasing", "kWh"),
        "gas_m3": ("gas", "total_increasing", "m³"),
        "power_import_w": ("power", "measurement", "W"),
        "voltage_l1": ("voltage", "measurement", "V"),
        "current_l1": ("current", "measurement", "A"),
        "power_import_l1_w": ("power", "measurement", "W"),
        "quarter_average_w": ("power", "measurement", "W"),
        "month_peak_w": ("power", "measurement", "W"),
    }
    for key, (device_class, state_class, unit) in expected.items():
        _topic, config = by_key[key]
        assert (config["device_class"], config["state_class"]) == (device_class, state_class)
        assert config["unit_of_measurement"] == unit
        assert config["state_topic"] == STATE
        assert [a["topic"] for a in config["availability"]] == [AVAILABILITY, METER_AVAILABILITY]
        assert config["availability_mode"] == "all"
    assert "voltage_l2" not in by_key  # only what the meter sends is announced
    assert by_key["gas_m3"][1]["device"]["via_device"] == f"p1edge_GW-BE_{AP}"
    warning = [c for _t, c in by_key.values() if c["p"] == "binary_sensor"]
    assert len(warning) == 1 and warning[0]["payload_on"] == "ON"
    # the replay was read to its end: the meter's line is no more
    assert retained[METER_AVAILABILITY].payload == b"offline"


def test_states_at_most_every_live_interval_with_values_in_dashboard_units(
    published: list[Message],
) -> None:
    found = states(published)
    times = [datetime.fromisoformat(str(s["time"]).replace("Z", "+00:00")) for s in found]
    assert len(found) == 61  # 3600 s of meter time at one state per 60 s, plus the last
    assert all((b - a).total_seconds() >= 60 for a, b in pairwise(times))
    first = found[0]
    assert first["import_t1_kwh"] == 2500.0 and first["gas_m3"] == 1234.567
    assert first["voltage_l1"] == 230.1 and first["power_import_w"] == 500


def test_the_warning_fires_in_the_busy_quarter_only_and_the_month_peak_follows(
    published: list[Message],
) -> None:
    by_quarter: dict[int, list[dict[str, object]]] = {}
    for state in states(published):
        by_quarter.setdefault(quarter_of(state), []).append(state)
    for calm in (0, 1, 3):
        assert {s["peak_warning"] for s in by_quarter[calm]} == {"OFF"}, calm
    busy = [s["peak_warning"] for s in by_quarter[2]]
    assert busy[0] == "OFF" and set(busy[1:]) == {"ON"}  # the first minute only observes
    assert by_quarter[2][-1]["quarter_projected_w"] == 6000
    assert by_quarter[3][-1]["month_peak_w"] == 6000  # our peak, from the closed busy quarter
    assert by_quarter[1][-1]["month_peak_w"] == 500  # the first quarter's
    assert "month_peak_w" not in by_quarter[0][0]  # nothing closed yet this month


def wait_for(client: BlockingClient, topic: str, payload: bytes, timeout: float = 20.0) -> Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = client.receive(timeout=0.5)
        if message is not None and (message.topic, message.payload) == (topic, payload):
            return message
    pytest.fail(f"{topic} {payload!r} did not arrive")


def test_the_link_reconnects_and_announces_again_after_a_broker_restart(tmp_path: Path) -> None:
    if mosquitto_binary() is None:
        pytest.skip(SKIP_REASON)
    with running_broker(tmp_path / "own") as own:
        link = LocalLink(own.settings(), client_id="gw", availability_topic="p/availability")
        link.set_retained("homeassistant/sensor/gw_x/config", b'{"x":1}')
        link.start()
        try:
            own.restart()  # retained messages are gone with it (no persistence)
            with BlockingClient(own.settings()) as watcher:
                watcher.subscribe("homeassistant/#", "p/availability")
                # live or retained, depending on whether the link was faster than we were
                wait_for(watcher, "homeassistant/sensor/gw_x/config", b'{"x":1}')
                with BlockingClient(own.settings()) as late:
                    late.subscribe("homeassistant/#", "p/availability")
                    assert wait_for(late, "homeassistant/sensor/gw_x/config", b'{"x":1}').retain
                    assert wait_for(late, "p/availability", b"online").retain
                watcher.publish(HA_STATUS, ONLINE, qos=1)  # Home Assistant came back
                again = wait_for(watcher, "homeassistant/sensor/gw_x/config", b'{"x":1}')
                assert not again.retain  # sent afresh, not replayed from the broker
        finally:
            link.stop()
