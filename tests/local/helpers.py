"""Helpers for the customer's-view tests: a Belgian gateway config and scripted telegrams."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from firmware_sim.crc import crc16_arc

AP = "541448800000000001"


def write_be_config(
    directory: Path, source: str, *, dialect: str = "fluvius", extra: str = "", clock: str = "meter"
) -> Path:
    """A Belgian gateway (Europe/Brussels, meter time by default) with one primary meter."""
    text = f"""[gateway]
id = "GW-BE"
timezone = "Europe/Brussels"
data_dir = "{directory / "data"}"
clock = "{clock}"

[connection]
ean = "{AP}"
phases = 3
voltage = 400
fuse_a = 25
check_ean = false

[[allocation_point]]
ean = "{AP}"
role = "primary"
source = "{source}"
dialect = "{dialect}"
{extra}"""
    path = directory / "agent.toml"
    path.write_text(text)
    return path


def _stamp(t: int) -> str:
    """DSMR time in Belgian legal time with its S/W letter."""
    utc = datetime.fromtimestamp(t, UTC)
    summer = (
        datetime(utc.year, 3, 31, 1, tzinfo=UTC) <= utc < datetime(utc.year, 10, 31, tzinfo=UTC)
    )
    offset = timedelta(hours=2 if summer else 1)  # good enough for the March dates used here
    return (utc + offset).strftime("%y%m%d%H%M%S") + ("S" if summer else "W")


# a water meter on M-Bus channel 2 and a heat meter on channel 3 (`telegram(..., submeters=True)`)
WATER_HEAT = [
    "0-2:24.1.0(007)",
    "0-2:96.1.0(5730303030303030303030303030303031)",
    "0-2:24.2.1(260302000000W)(00012.345*m3)",
    "0-3:24.1.0(004)",
    "0-3:96.1.0(4830303030303030303030303030303032)",
    "0-3:24.2.1(260302000000W)(01.234*GJ)",
]


def telegram(t: int, import_wh: int, power_w: int, *, submeters: bool = False) -> bytes:
    """A DSMR 5 telegram with CRC: registers, power, per-phase values and gas (and water and
    heat with `submeters`)."""
    lines = [
        "/TST5\\2TEST",
        "",
        "1-3:0.2.8(50)",
        f"0-0:1.0.0({_stamp(t)})",
        "0-0:96.1.1(4530303030303030303030303030303039)",
        f"1-0:1.8.1({import_wh // 2 // 1000:06d}.{import_wh // 2 % 1000:03d}*kWh)",
        f"1-0:1.8.2({(import_wh - import_wh // 2) // 1000:06d}"
        f".{(import_wh - import_wh // 2) % 1000:03d}*kWh)",
        "1-0:2.8.1(000100.000*kWh)",
        "1-0:2.8.2(000200.000*kWh)",
        "0-0:96.14.0(0001)",
        f"1-0:1.7.0({power_w // 1000:02d}.{power_w % 1000:03d}*kW)",
        "1-0:2.7.0(00.000*kW)",
        "1-0:32.7.0(230.1*V)",
        "1-0:31.7.0(002.50*A)",
        f"1-0:21.7.0({power_w // 1000:02d}.{power_w % 1000:03d}*kW)",
        "0-1:24.1.0(003)",
        "0-1:96.1.0(4730303030303030303030303030303039)",
        f"0-1:24.2.1({_stamp(t - t % 300)})(01234.567*m3)",
        *(WATER_HEAT if submeters else []),
        "!",
    ]
    body = "\r\n".join(lines).encode()
    return body + f"{crc16_arc(body):04X}\r\n".encode()


def scripted_capture(path: Path, start: int, watts_per_quarter: list[int], step: int = 10) -> None:
    """Quarter-hours at constant power, a telegram every `step` s, and one at the end."""
    wh_exact = 5_000_000 * 3600  # Ws
    chunks = []
    t = start
    for watts in watts_per_quarter:
        for _ in range(900 // step):
            chunks.append(telegram(t, wh_exact // 3600, watts))
            wh_exact += watts * step
            t += step
    chunks.append(telegram(t, wh_exact // 3600, 0))
    path.write_bytes(b"".join(chunks))


def device_components(retained: dict[str, bytes]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Of retained device discovery configs: each component by key, with its device topic and
    its config as Home Assistant assembles it (the root's shared options and device added)."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for topic, payload in retained.items():
        if not (topic.startswith("homeassistant/device/") and payload):
            continue
        root = json.loads(payload)
        shared = {k: v for k, v in root.items() if k not in ("cmps", "dev", "o")}
        for cid, config in root["cmps"].items():
            out[cid] = (topic, {**shared, **config, "device": root["dev"], "origin": root["o"]})
    return out
