"""Home Assistant MQTT discovery: one device per meter, one sensor per live value.

Strategy: Home Assistant reads retained configs under `homeassistant/<component>/<id>/config`.
Each config points at the meter's state topic with a `value_template` picking its key, names
the device (identifiers unique per gateway and meter) and the availability topic, so the
sensors grey out when the gateway goes offline (last will). `device_class` + `state_class` +
`unit_of_measurement` (energy/total_increasing/kWh, gas/total_increasing/m³) are what the
Energy dashboard needs to offer a sensor. Only the keys a meter actually sends are announced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Final

from edge import __version__
from edge.local.values import PHASES, SENSORS, WARNING_KEY

DISCOVERY_PREFIX: Final = "homeassistant"
PHASE_KEYS: Final = frozenset(key for key, _obis, _unit in PHASES)
DIAGNOSTIC_KEYS: Final = PHASE_KEYS | {"power_failures", "long_power_failures"}
# announced at once but absent from a state until known (no quarter closed yet): their template
# renders None then, which Home Assistant shows as unknown (an absent key is a template error)
MAYBE_ABSENT_KEYS: Final = frozenset(
    {"month_peak_w", "meter_month_peak_w", "quarter_average_w", "quarter_projected_w"}
)


def object_id(*parts: str) -> str:
    """A discovery object id: only letters, digits, '_' and '-'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", "_".join(("p1edge", *parts)))


def device(
    gateway: str, ap: str, role: str, dialect: str, name: str | None = None
) -> dict[str, Any]:
    """The Home Assistant device of one meter, named as the point is in the configuration."""
    return {
        "identifiers": [object_id(gateway, ap)],
        "name": name or f"P1 {role} meter {ap}",
        "manufacturer": "p1edge",
        "model": f"P1 {dialect}",
        "serial_number": ap,
        "sw_version": __version__,
    }


def sensor_config(
    key: str,
    *,
    gateway: str,
    ap: str,
    dev: dict[str, Any],
    state_topic: str,
    availability: str,
    expire_after: int | None = None,
) -> tuple[str, bytes]:
    """(topic, retained JSON payload) announcing one live value of one meter.

    `expire_after` (s): a meter that stops sending shows unavailable after it, not stale values
    (the gateway's own availability topic only covers the gateway going offline).
    """
    unique = object_id(gateway, ap, key)
    component = "binary_sensor" if key == WARNING_KEY else "sensor"
    config: dict[str, Any] = {
        "unique_id": unique,
        # `object_id` is deprecated (Home Assistant 2025.10, removed 2026.4): the entity id
        "default_entity_id": f"{component}.{unique}".lower(),
        "state_topic": state_topic,
        "availability_topic": availability,
        "device": dev,
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
    else:
        sensor = SENSORS[key]
        fallback = " | default(None)" if key in MAYBE_ABSENT_KEYS else ""
        template = f"{{{{ value_json.{key}{fallback} }}}}"
        config |= {"name": sensor.name, "value_template": template}
        if sensor.device_class is not None:
            config["device_class"] = sensor.device_class
        if sensor.state_class is not None:
            config["state_class"] = sensor.state_class
        if sensor.unit is not None:
            config["unit_of_measurement"] = sensor.unit
    topic = f"{DISCOVERY_PREFIX}/{component}/{unique}/config"
    return topic, json.dumps(config, sort_keys=True).encode()


def announced_keys(values: Iterable[str]) -> set[str]:
    """The keys of a state message that get a sensor (not the times)."""
    return {key for key in values if key in SENSORS or key == WARNING_KEY}


def stale_config(gateway: str, aps: Iterable[str]) -> Callable[[str], bool]:
    """A test of a discovery config topic: True if it is this gateway's, of a point no longer
    configured (its retained config must be cleared, or Home Assistant keeps a dead device).

    The topic must be `homeassistant/<component>/p1edge_<gateway>_<18-digit EAN>_<key>/config`:
    the EAN's form keeps another gateway whose id merely starts like ours out of it.
    """
    ours = re.compile(
        rf"{DISCOVERY_PREFIX}/[^/]+/{re.escape(object_id(gateway))}_(\d{{18}})_[^/]+/config"
    )
    keep = {object_id(ap).removeprefix("p1edge_") for ap in aps}

    def stale(topic: str) -> bool:
        found = ours.fullmatch(topic)
        return found is not None and found[1] not in keep

    return stale
