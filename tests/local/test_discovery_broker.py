"""What the broker holds from before, against a real mosquitto: per-entity configs of the earlier
versions migrated to device configs (in Home Assistant's documented order), configs of points
no longer configured cleared, and a component a device drops announced as removed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.adapters.mqtt_blocking import BlockingClient, Message
from edge.local.discovery import component, device_config, device_topic, meter_device
from edge.local.link import LocalLink
from edge.local.reconcile import MIGRATE, Reconciler
from tests.support.mosquitto import SKIP_REASON, Broker, mosquitto_binary, running_broker

TIMEOUT = 20.0
GW = "GW-BE"
KEPT, GONE = "541448800000000001", "541448800000000002"
DEVICE = device_topic(f"p1edge_{GW}_{KEPT}")
FOREIGN = f"homeassistant/sensor/p1edge_{GW}_X_{GONE}_power_import_w/config"  # GW-BE_X's


def legacy(ap: str, key: str) -> str:
    platform = "binary_sensor" if key == "peak_warning" else "sensor"
    return f"homeassistant/{platform}/p1edge_{GW}_{ap}_{key}/config"


def config_of(*keys: str) -> bytes:
    dev = meter_device(GW, KEPT, "primary", "dsmr5", "House")
    cmps = dict(component(key, gateway=GW, ap=KEPT) for key in keys)
    return device_config(
        dev, cmps, state_topic=f"p1edge/local/{GW}/{KEPT}/state", availability=["p/availability"]
    )


@pytest.fixture
def own(tmp_path: Path) -> Iterator[Broker]:
    if mosquitto_binary() is None:
        pytest.skip(SKIP_REASON)
    with running_broker(tmp_path / "own") as broker:
        yield broker


def retained_now(broker: Broker) -> dict[str, bytes]:
    """The discovery configs the broker holds retained now (a fresh subscription)."""
    seen: dict[str, bytes] = {}
    with BlockingClient(broker.settings()) as reader:
        reader.subscribe("homeassistant/#")
        while (message := reader.receive(timeout=0.5)) is not None:
            if message.retain and message.payload:
                seen[message.topic] = message.payload
    return seen


def wait_for(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        assert time.monotonic() < deadline, f"not in {TIMEOUT} s: {what}"
        time.sleep(0.1)


def hold(broker: Broker, topics: dict[str, bytes]) -> None:
    """What an earlier run left on the broker."""
    with BlockingClient(broker.settings()) as earlier:
        for topic, payload in topics.items():
            earlier.publish(topic, payload, qos=1, retain=True)


def run_link(
    broker: Broker, aps: tuple[str, ...], announce: dict[str, bytes], done: Callable[[], bool]
) -> tuple[LocalLink, list[Message]]:
    """A link announcing `announce` until `done`; what a subscriber saw meanwhile, in order."""
    link = LocalLink(
        broker.settings(),
        client_id="gw",
        availability_topic="p/availability",
        reconciler=Reconciler(GW, aps),
        settle_s=0.3,
    )
    for topic, payload in announce.items():
        link.set_retained(topic, payload)
    seen: list[Message] = []
    with BlockingClient(broker.settings()) as watcher:  # Home Assistant, subscribed all along
        watcher.subscribe("homeassistant/#")
        while watcher.receive(timeout=0.3) is not None:  # the retained ones, before the link
            pass
        link.start()
        try:
            wait_for(done, "the broker holds what was announced")
            while (message := watcher.receive(timeout=0.5)) is not None:
                if not message.retain:  # sent by the link now, not held from before
                    seen.append(message)
        finally:
            link.stop()
    return link, seen


def test_per_entity_configs_migrate_to_one_device_config(own: Broker) -> None:
    keys = ("power_import_w", "import_t1_kwh", "peak_warning")
    old = {legacy(KEPT, key): b'{"unique_id": "x"}' for key in keys}
    hold(own, old | {legacy(GONE, "power_import_w"): b"{}", FOREIGN: b"{}"})
    new = config_of(*keys)
    # in the end: the device config and the other gateway's config, nothing else of ours
    final = {DEVICE: new, FOREIGN: b"{}"}
    link, seen = run_link(own, (KEPT,), {DEVICE: new}, lambda: retained_now(own) == final)
    assert sorted(link.migrated) == sorted(old)
    order = [(m.topic, m.payload) for m in seen]
    announced = order.index((DEVICE, new))
    for topic in old:  # Home Assistant's order: migrate, the device config, clear
        assert order.index((topic, MIGRATE)) < announced < order.index((topic, b""))
    assert (legacy(GONE, "power_import_w"), MIGRATE) not in order  # a gone point: cleared
    assert (legacy(GONE, "power_import_w"), b"") in order
    # the entities keep their unique_id: Home Assistant moves them into the device
    components = json.loads(new)["cmps"]
    assert {c["unique_id"] for c in components.values()} == {
        f"p1edge_{GW}_{KEPT}_{key}" for key in keys
    }


def test_a_component_the_device_drops_is_announced_as_removed(own: Broker) -> None:
    hold(own, {DEVICE: config_of("power_import_w", "voltage_l2")})
    new = config_of("power_import_w")
    _link, seen = run_link(
        own, (KEPT,), {DEVICE: new}, lambda: retained_now(own).get(DEVICE) == new
    )
    on_device = [json.loads(m.payload) for m in seen if m.topic == DEVICE]
    assert len(on_device) == 2, on_device
    removal, final = on_device
    assert removal["cmps"]["voltage_l2"] == {"p": "sensor"}  # only its platform: removed
    assert removal["cmps"]["power_import_w"] == final["cmps"]["power_import_w"]
    assert set(final["cmps"]) == {"power_import_w"}
    # announced again unchanged (the next start): no removal
    _link, again = run_link(own, (KEPT,), {DEVICE: new}, lambda: True)
    assert [m.payload for m in again if m.topic == DEVICE] == [new]


def test_the_device_config_of_a_point_no_longer_configured_is_cleared(own: Broker) -> None:
    gone = device_topic(f"p1edge_{GW}_{GONE}")
    gone_gas = device_topic(f"p1edge_{GW}_{GONE}_gas")
    hold(own, {gone: b"{}", gone_gas: b"{}", FOREIGN: b"{}"})
    new = config_of("power_import_w")
    run_link(own, (KEPT,), {DEVICE: new}, lambda: set(retained_now(own)) == {DEVICE, FOREIGN})
