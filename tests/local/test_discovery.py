"""Home Assistant device discovery payloads against the documented schema.

Keys from home-assistant.io/integrations/mqtt ("Device discovery payload": `dev`, `o`, `cmps`
with a platform `p` per component; shared options `availability*`, `state_topic`,
`command_topic`, `qos`, `encoding` — the device schema refuses other root keys) and from
sensor.mqtt / binary_sensor.mqtt (2025.10+: `default_entity_id` replaces the deprecated
`object_id`, which stops working in 2026.4).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.config import load_config
from edge.local import LocalService
from edge.local.discovery import DIAGNOSTIC_KEYS, PHASE_KEYS
from edge.p1 import decode
from edge.store import connect
from firmware_sim.api import render
from tests.local.helpers import AP, device_components, telegram, write_be_config
from tests.local.test_service import Recorder

ROOT = {
    "dev", "device", "o", "origin", "cmps", "components", "state_topic", "command_topic", "qos",
    "encoding", "availability", "availability_mode", "availability_template",
    "availability_topic", "payload_available", "payload_not_available",
}  # fmt: skip
ORIGIN = {"name", "sw_version", "support_url"}
COMMON = {
    "p", "platform", "availability", "availability_mode", "availability_template",
    "availability_topic", "default_entity_id", "device_class", "enabled_by_default", "encoding",
    "entity_category", "entity_picture", "expire_after", "force_update", "icon",
    "json_attributes_template", "json_attributes_topic", "name", "payload_available",
    "payload_not_available", "qos", "unique_id", "value_template", "state_topic",
}  # fmt: skip
SENSOR = COMMON | {
    "last_reset_value_template", "options", "state_class", "suggested_display_precision",
    "unit_of_measurement",
}  # fmt: skip
BINARY_SENSOR = COMMON | {"off_delay", "payload_off", "payload_on"}
DEVICE = {
    "configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model",
    "model_id", "name", "serial_number", "suggested_area", "sw_version", "via_device",
}  # fmt: skip
DEPRECATED = {"object_id"}
METER = f"p1edge_GW-BE_{AP}"
STATE = f"p1edge/local/GW-BE/{AP}/state"
AVAILABILITY = [
    {"topic": "p1edge/local/GW-BE/availability"},
    {"topic": f"p1edge/local/GW-BE/{AP}/availability"},
]


def announce(tmp_path: Path, telegrams: list[bytes] | None = None) -> dict[str, bytes]:
    extra = 'name = "House"\n\n[local]\nbroker = "mqtt://127.0.0.1:1"\nlive_interval_s = 10\n'
    config = load_config(
        write_be_config(tmp_path, "/dev/null", dialect="dsmr5", extra=extra, clock="meter")
    )
    if telegrams is None:
        telegrams = render("dsmr5", duration="30s", interval=1, seed=3, gas=True).telegrams
    publisher = Recorder()
    conn = connect(tmp_path / "data")
    try:
        service = LocalService(config, publisher, conn, ZoneInfo("Europe/Brussels"))
        for data in telegrams:
            service.on_telegrams(AP, decode(data))
    finally:
        conn.close()
    return publisher.retained


def configs(retained: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return {t: json.loads(p) for t, p in retained.items() if t.startswith("homeassistant/")}


def test_one_device_config_per_device_with_documented_keys_only(tmp_path: Path) -> None:
    found = configs(announce(tmp_path))
    assert set(found) == {
        f"homeassistant/device/{METER}/config",
        f"homeassistant/device/{METER}_gas/config",
    }
    for topic, config in found.items():
        assert set(config) <= ROOT, (topic, set(config) - ROOT)
        assert {"dev", "o", "cmps"} <= set(config)  # required by the device schema
        assert set(config["o"]) <= ORIGIN and config["o"]["name"] == "p1edge"
        assert set(config["dev"]) <= DEVICE, set(config["dev"]) - DEVICE
        assert config["state_topic"] == STATE
        assert config["availability"] == AVAILABILITY and config["availability_mode"] == "all"
        for cid, component in config["cmps"].items():
            platform = component["p"]
            allowed = BINARY_SENSOR if platform == "binary_sensor" else SENSOR
            assert platform in ("sensor", "binary_sensor"), (topic, cid)
            assert set(component) <= allowed, (cid, set(component) - allowed)
            assert not set(component) & DEPRECATED, cid
            assert component["unique_id"] == f"{METER}_{cid}"  # as the per-entity form had it
            entity = str(component["default_entity_id"])
            assert entity == f"{platform}.{METER}_{cid}".lower(), entity


def test_gas_is_a_device_of_its_own_through_the_meter(tmp_path: Path) -> None:
    found = configs(announce(tmp_path))
    meter = found[f"homeassistant/device/{METER}/config"]
    gas = found[f"homeassistant/device/{METER}_gas/config"]
    assert meter["dev"]["name"] == "House" and meter["dev"]["identifiers"] == [METER]
    assert gas["dev"]["name"] == "House gas" and gas["dev"]["identifiers"] == [f"{METER}_gas"]
    assert gas["dev"]["via_device"] == METER
    assert set(gas["cmps"]) == {"gas_m3"} and "gas_m3" not in meter["cmps"]
    reading = gas["cmps"]["gas_m3"]
    assert (reading["device_class"], reading["state_class"]) == ("gas", "total_increasing")
    assert reading["unit_of_measurement"] == "m³"


def test_water_and_heat_sub_meters_are_devices_too(tmp_path: Path) -> None:
    t0 = 1_772_406_000
    retained = announce(
        tmp_path, [telegram(t0 + s, 5_000_000, 700, submeters=True) for s in (0, 1)]
    )
    found = configs(retained)
    water = found[f"homeassistant/device/{METER}_water/config"]
    heat = found[f"homeassistant/device/{METER}_heat/config"]
    assert water["dev"]["name"] == "House water" and heat["dev"]["name"] == "House heat"
    assert water["dev"]["serial_number"] == "W0000000000000001"  # the equipment id, as text
    assert water["dev"]["via_device"] == heat["dev"]["via_device"] == METER
    sensors = {cid: c for config in (water, heat) for cid, c in config["cmps"].items()}
    assert {k: (c["device_class"], c["state_class"], c["unit_of_measurement"])
            for k, c in sensors.items()} == {
        "water_m3": ("water", "total_increasing", "m³"),
        "heat_gj": ("energy", "total_increasing", "GJ"),
    }  # fmt: skip


def test_a_silent_meter_expires_and_its_availability_is_its_own(tmp_path: Path) -> None:
    retained = announce(tmp_path)
    assert retained[f"p1edge/local/GW-BE/{AP}/availability"] == b"offline"  # nobody looked yet
    for _topic, config in device_components(retained).values():
        # dsmr5: 1 s telegrams, silent after 3; states every 10 s: unavailable after 13 s
        assert config["expire_after"] == 13


def test_per_phase_sensors_are_diagnostic_and_disabled_by_default(tmp_path: Path) -> None:
    components = device_components(announce(tmp_path))
    assert PHASE_KEYS & set(components), sorted(components)
    for key, (_topic, config) in components.items():
        if key in DIAGNOSTIC_KEYS:
            assert config["entity_category"] == "diagnostic", key
            assert config["enabled_by_default"] is False, key
        else:
            assert "entity_category" not in config and "enabled_by_default" not in config, key


def test_tariff_power_failures_and_capacity_figures_are_announced(tmp_path: Path) -> None:
    keys = set(device_components(announce(tmp_path)))
    wanted = {"tariff", "power_failures", "long_power_failures", "month_peak_w"}
    assert wanted | {"quarter_average_w", "quarter_projected_w"} <= keys, sorted(keys)
