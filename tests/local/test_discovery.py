"""Home Assistant discovery payloads against the documented MQTT sensor schema.

Keys from home-assistant.io/integrations/sensor.mqtt and binary_sensor.mqtt (2025.10+:
`default_entity_id` replaces the deprecated `object_id`, which stops working in 2026.4).
"""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.config import load_config
from edge.local import LocalService
from edge.local.discovery import DIAGNOSTIC_KEYS, PHASE_KEYS
from edge.p1 import decode
from edge.store import connect
from firmware_sim.api import render
from tests.local.helpers import AP, write_be_config
from tests.local.test_service import Recorder

COMMON = {
    "availability", "availability_mode", "availability_template", "availability_topic",
    "default_entity_id", "device", "device_class", "enabled_by_default", "encoding",
    "entity_category", "entity_picture", "expire_after", "force_update", "icon",
    "json_attributes_template", "json_attributes_topic", "name", "payload_available",
    "payload_not_available", "platform", "qos", "unique_id", "value_template", "state_topic",
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


def announced(tmp_path: Path) -> dict[str, dict[str, object]]:
    extra = 'name = "House"\n\n[local]\nbroker = "mqtt://127.0.0.1:1"\nlive_interval_s = 10\n'
    config = load_config(
        write_be_config(tmp_path, "/dev/null", dialect="dsmr5", extra=extra, clock="meter")
    )
    publisher = Recorder()
    conn = connect(tmp_path / "data")
    try:
        service = LocalService(config, publisher, conn, ZoneInfo("Europe/Brussels"))
        for data in render("dsmr5", duration="30s", interval=1, seed=3, gas=True).telegrams:
            service.on_telegrams(AP, decode(data))
    finally:
        conn.close()
    return {topic: json.loads(payload) for topic, payload in publisher.retained.items()}


def test_every_payload_uses_documented_keys_only_and_no_deprecated_one(tmp_path: Path) -> None:
    configs = announced(tmp_path)
    assert len(configs) > 10
    for topic, config in configs.items():
        component = topic.split("/")[1]
        allowed = BINARY_SENSOR if component == "binary_sensor" else SENSOR
        assert component in ("sensor", "binary_sensor"), topic
        assert set(config) <= allowed, (topic, set(config) - allowed)
        assert not set(config) & DEPRECATED, topic
        assert set(config["device"]) <= DEVICE  # type: ignore[arg-type]
        entity = str(config["default_entity_id"])
        assert entity.startswith(f"{component}.") and entity == entity.lower(), entity


def test_the_device_is_named_as_configured_and_a_silent_meter_expires(tmp_path: Path) -> None:
    configs = announced(tmp_path)
    for config in configs.values():
        assert config["device"]["name"] == "House"  # type: ignore[index]
        # dsmr5: 1 s telegrams, silent after 3; states every 10 s: unavailable after 13 s
        assert config["expire_after"] == 13


def test_per_phase_sensors_are_diagnostic_and_disabled_by_default(tmp_path: Path) -> None:
    configs = announced(tmp_path)
    phases = {t: c for t, c in configs.items() if t.split("/")[2].split("_", 3)[-1] in PHASE_KEYS}
    assert phases, sorted(configs)
    for topic, config in configs.items():
        key = str(config["unique_id"]).split(f"{AP}_", 1)[1]
        if key in DIAGNOSTIC_KEYS:
            assert config["entity_category"] == "diagnostic", topic
            assert config["enabled_by_default"] is False, topic
        else:
            assert "entity_category" not in config and "enabled_by_default" not in config, topic


def test_tariff_power_failures_and_capacity_figures_are_announced(tmp_path: Path) -> None:
    keys = {str(c["unique_id"]).split(f"{AP}_", 1)[1] for c in announced(tmp_path).values()}
    wanted = {"tariff", "power_failures", "long_power_failures", "month_peak_w"}
    assert wanted | {"quarter_average_w", "quarter_projected_w"} <= keys, sorted(keys)
