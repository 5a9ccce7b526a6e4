"""Home Assistant MQTT device discovery: one retained config per device with its components.

Strategy: Home Assistant reads `homeassistant/device/<object id>/config`: the device (`dev`), the
origin (`o`: who sends it), and its components (`cmps`: component id -> config, each naming its
platform `p`), plus options shared by all components (`state_topic`, `availability`, `qos`).
An allocation point's meter is one device; each M-Bus sub-meter it carries (gas, water, heat)
is a device of its own, reached through the meter (`via_device`), as Home Assistant's DSMR
integration shows them. All of one meter's entities read the meter's state topic with a
`value_template` picking their key. A device is available while the gateway is (its last
will) AND its meter is read (`availability_mode: all`); `expire_after` also greys a value out
should states stop while both say online. Only the keys a meter actually sends are announced.

The component ids and `unique_id`s are those of the earlier per-entity discovery, so Home
Assistant keeps each entity's id, settings and history when it migrates (`reconcile.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from edge import __version__
from edge.local.values import PHASES, SENSORS, SUBMETER_KEYS, WARNING_KEY
from edge.status import dialect_of

if TYPE_CHECKING:
    from edge.p1 import Telegram

DISCOVERY_PREFIX: Final = "homeassistant"
PHASE_KEYS: Final = frozenset(key for key, _obis, _unit in PHASES)
DIAGNOSTIC_KEYS: Final = PHASE_KEYS | {"power_failures", "long_power_failures"}
# announced at once but absent from a state until known (no quarter closed yet): their template
# renders None then, which Home Assistant shows as unknown (an absent key is a template error)
MAYBE_ABSENT_KEYS: Final = frozenset(
    {"month_peak_w", "meter_month_peak_w", "quarter_average_w", "quarter_projected_w"}
)
ORIGIN: Final = {"name": "p1edge", "sw_version": __version__}


def object_id(*parts: str) -> str:
    """A discovery object id: only letters, digits, '_' and '-'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", "_".join(("p1edge", *parts)))


def device_topic(device_id: str) -> str:
    """Where a device's retained discovery config lives."""
    return f"{DISCOVERY_PREFIX}/device/{device_id}/config"


def meter_device(
    gateway: str,
    ap: str,
    role: str,
    dialect: str,
    name: str | None = None,
    telegram: Telegram | None = None,
) -> dict[str, Any]:
    """The Home Assistant device of one meter, named as the point is in the configuration; its
    model the dialect, for `auto` the one `telegram` speaks (as `edge-agent status` shows)."""
    if dialect == "auto" and telegram is not None:
        dialect = dialect_of(telegram)
    return {
        "identifiers": [object_id(gateway, ap)],
        "name": name or f"P1 {role} meter {ap}",
        "manufacturer": "p1edge",
        "model": f"P1 {dialect}",
        "serial_number": ap,
        "sw_version": __version__,
    }


def submeter_device(
    gateway: str, ap: str, kind: str, meter_name: str, equipment_id: str | None
) -> dict[str, Any]:
    """An M-Bus sub-meter (gas, water, heat) read through the meter of `ap`."""
    dev: dict[str, Any] = {
        "identifiers": [object_id(gateway, ap, kind)],
        "name": f"{meter_name} {kind}",
        "manufacturer": "p1edge",
        "model": f"M-Bus {kind} meter",
        "via_device": object_id(gateway, ap),
    }
    if equipment_id:
        dev["serial_number"] = equipment_id
    return dev


def device_of(key: str) -> str | None:
    """The sub-meter a state key belongs to ("gas" …), or None for the meter itself."""
    return SUBMETER_KEYS.get(key)


def component(
    key: str, *, gateway: str, ap: str, expire_after: int | None = None
) -> tuple[str, dict[str, Any]]:
    """(component id, config) of one live value; the device-wide options come from the root."""
    unique = object_id(gateway, ap, key)
    platform = "binary_sensor" if key == WARNING_KEY else "sensor"
    config: dict[str, Any] = {
        "p": platform,
        "unique_id": unique,
        # `object_id` is deprecated (Home Assistant 2025.10, removed 2026.4): the entity id
        "default_entity_id": f"{platform}.{unique}".lower(),
    }
    if expire_after is not None:
        config["expire_after"] = expire_after
    if key in DIAGNOSTIC_KEYS:  # detail for an installer, off the dashboard
        config["entity_category"] = "diagnostic"
        config["enabled_by_default"] = False
    if key == WARNING_KEY:
        config |= {
            "name": "Peak warning",
            "device_class": "problem",
            "value_template": f"{{{{ value_json.{key} }}}}",
            "payload_on": "ON",
            "payload_off": "OFF",
        }
        return key, config
    sensor = SENSORS[key]
    fallback = " | default(None)" if key in MAYBE_ABSENT_KEYS else ""
    config |= {"name": sensor.name, "value_template": f"{{{{ value_json.{key}{fallback} }}}}"}
    if sensor.device_class is not None:
        config["device_class"] = sensor.device_class
    if sensor.state_class is not None:
        config["state_class"] = sensor.state_class
    if sensor.unit is not None:
        config["unit_of_measurement"] = sensor.unit
    return key, config


def device_config(
    dev: Mapping[str, Any],
    components: Mapping[str, Mapping[str, Any]],
    *,
    state_topic: str,
    availability: Iterable[str],
) -> bytes:
    """The retained payload announcing one device and its components.

    Only the keys Home Assistant's device schema allows sit at the root (it refuses others).
    """
    config = {
        "dev": dev,
        "o": ORIGIN,
        "cmps": dict(components),
        "state_topic": state_topic,
        "availability": [{"topic": topic} for topic in availability],
        "availability_mode": "all",
        "qos": 0,
    }
    return json.dumps(config, sort_keys=True, ensure_ascii=False).encode()


def announced_keys(values: Iterable[str]) -> set[str]:
    """The keys of a state message that get a sensor (not the times)."""
    return {key for key in values if key in SENSORS or key == WARNING_KEY}
