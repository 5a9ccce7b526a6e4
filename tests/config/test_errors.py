"""Every mistake from SPEC §8 and issue 4 is a one-line ConfigError that names the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edge.config import SettingError, parse_config
from tests.config.support import EV, PAP, PV, error_of, secondary_ean, table

Mutation = Callable[[dict[str, Any]], None]


def _six_secondaries(data: dict[str, Any]) -> None:
    points = data["allocation_point"]
    points[2]["source"] = "/dev/p1-pv"
    points += [
        {"ean": secondary_ean(n), "role": "secondary", "source": f"/dev/p1-{n}"} for n in range(4)
    ]


def _no_primary(data: dict[str, Any]) -> None:
    data["allocation_point"][0]["role"] = "secondary"
    data["allocation_point"][2]["source"] = "/dev/p1-pv"


def _two_primaries(data: dict[str, Any]) -> None:
    data["allocation_point"][1]["role"] = "primary"


def _duplicate_ean(data: dict[str, Any]) -> None:
    data["allocation_point"][2]["ean"] = EV


def _set(section: str, key: str, value: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data[section][key] = value

    return mutate


def _point(n: int, key: str, value: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data["allocation_point"][n][key] = value

    return mutate


CASES: dict[str, tuple[Mutation, str, str]] = {
    # name: (mutation, key the message starts with, a phrase of the message)
    "six secondaries": (
        _six_secondaries,
        "allocation_point[7].role",
        "at most five secondary allocation points (found 6)",
    ),
    "no primary": (_no_primary, "allocation_point", 'no point has role = "primary"'),
    "two primaries": (_two_primaries, "allocation_point[2].role", "a second primary point"),
    "duplicate EAN": (_duplicate_ean, "allocation_point[3].ean", f"duplicate EAN {EV}"),
    "fuse of no standard size": (
        _set("connection", "fuse_a", 36),
        "connection.fuse_a",
        "36 A is no standard fuse size for 3 phases at 400 V; use one of 16, 20, 25, 32, 35,",
    ),
    "1-phase fuse 80": (
        lambda d: d["connection"].update(phases=1, voltage=230, fuse_a=80),
        "connection.fuse_a",
        "80 A is no standard fuse size for 1 phase at 230 V; use one of 16, 20,",
    ),
    "1 phase at 400 V": (
        lambda d: d["connection"].update(phases=1),
        "connection.voltage",
        "a single-phase connection is 230 V",
    ),
    "2 phases": (_set("connection", "phases", 2), "connection.phases", "use 1 or 3"),
    "unknown dialect": (
        _point(0, "dialect", "dsmr6"),
        "allocation_point[1].dialect",
        "unknown value 'dsmr6' (did you mean dsmr5?); use one of auto, dsmr22,",
    ),
    "unknown role": (_point(1, "role", "tertiary"), "allocation_point[2].role", "primary"),
    "bad EAN check digit": (
        _set("connection", "ean", "871687120000000001"),
        "connection.ean",
        "GS1 mod-10 check digit (last digit should be 4)",
    ),
    "EAN too short": (_point(1, "ean", "8716871200"), "allocation_point[2].ean", "18 digits"),
    "EAN as integer": (_point(1, "ean", 871687120000000011), "allocation_point[2].ean", "string"),
    "mbus to unknown point": (
        _point(2, "source", "mbus:871687120000000035:2"),
        "allocation_point[3].source",
        "no allocation point has EAN 871687120000000035",
    ),
    "mbus channel 5": (_point(2, "source", f"mbus:{PAP}:5"), "allocation_point[3].source", "1-4"),
    "mbus to itself": (_point(2, "source", f"mbus:{PV}:1"), "allocation_point[3].source", "own"),
    "mbus to mbus": (
        lambda d: d["allocation_point"][1].update(source=f"mbus:{PV}:1"),
        "allocation_point[2].source",
        "itself an mbus: point",
    ),
    "mbus point with dialect": (
        _point(2, "dialect", "dsmr5"),
        "allocation_point[3].dialect",
        "remove this key",
    ),
    "relative device path": (
        _point(0, "source", "ttyUSB0"),
        "allocation_point[1].source",
        "/dev/ttyUSB0",
    ),
    "socket without port": (
        _point(1, "source", "socket://meter"),
        "allocation_point[2].source",
        "socket://host:port",
    ),
    "unknown URL scheme": (
        _point(1, "source", "tcp://meter:2000"),
        "allocation_point[2].source",
        "unknown URL scheme 'tcp'",
    ),
    "smarty without key": (
        _point(0, "dialect", "smarty"),
        "allocation_point[1].key",
        "required for dialect 'smarty'",
    ),
    "key not hex": (_point(0, "key", "xyz"), "allocation_point[1].key", "32 hex digits"),
    "key on plain dialect": (
        lambda d: d["allocation_point"][0].update(dialect="dsmr5", key="00" * 16),
        "allocation_point[1].key",
        "not encrypted",
    ),
    "bad point regime": (_point(1, "regime", "daily"), "allocation_point[2].regime", "unknown"),
    "bad broker scheme": (
        _set("grid", "broker", "http://broker:1883"),
        "grid.broker",
        "scheme 'http' is not supported; use mqtt://host:1883 or mqtts://host:8883",
    ),
    "broker without host": (_set("grid", "broker", "mqtt://:1883"), "grid.broker", "no host"),
    "broker port not a number": (
        _set("grid", "broker", "mqtt://broker:port"),
        "grid.broker",
        "not a broker URL",
    ),
    "broker with credentials": (
        _set("grid", "broker", "mqtt://u:p@broker"),
        "grid.broker",
        "password_file",
    ),
    "prefix wildcard": (_set("grid", "prefix", "p1edge/#"), "grid.prefix", "wildcard"),
    "prefix slash": (_set("grid", "prefix", "/p1edge"), "grid.prefix", "leading"),
    "prefix newline": (_set("grid", "prefix", "p1edge/v1\n"), "grid.prefix", "no spaces"),
    "gateway id newline": (_set("gateway", "id", "GW-1\n"), "gateway.id", "1-64 letters"),
    "key with newline": (
        _point(0, "key", "00" * 16 + "\n"),
        "allocation_point[1].key",
        "32 hex digits",
    ),
    "protocol 4": (_set("grid", "protocol", "4"), "grid.protocol", '"3.1.1"'),
    "ca file without TLS": (_set("grid", "ca_file", "ca.pem"), "grid.ca_file", "mqtts://"),
    "password without user": (
        _set("grid", "password_file", "pw"),
        "grid.password_file",
        "grid.username is empty",
    ),
    "keepalive 0": (_set("grid", "keepalive", 0), "grid.keepalive", "out of range"),
    "local on grid broker": (
        _set("local", "broker", "mqtt://127.0.0.1"),
        "local.broker",
        "grid operator's broker",
    ),
    "local margin 10": (
        _set("local", "peak_warning_margin", 10),
        "local.peak_warning_margin",
        "0.1 means 10 %",
    ),
    "local interval as string": (
        _set("local", "live_interval_s", "10"),
        "local.live_interval_s",
        "expected an integer",
    ),
    "gateway key typo": (
        _set("gateway", "timezon", "Europe/Amsterdam"),
        "gateway.timezon",
        "unknown key; did you mean timezone?",
    ),
    "section typo": (
        lambda d: d.update(polcy={}),
        "polcy",
        "unknown section; did you mean policy?",
    ),
    "point key typo": (
        _point(0, "dialet", "dsmr5"),
        "allocation_point[1].dialet",
        "did you mean dialect?",
    ),
    "policy key typo": (
        lambda d: d.update(policy={"max_backfil_days": 3}),
        "policy.max_backfil_days",
        "did you mean max_backfill_days?",
    ),
    "policy regime": (
        lambda d: d.update(policy={"regime": "hourly"}),
        "policy.regime",
        "unknown regime",
    ),
    "bad time zone": (
        _set("gateway", "timezone", "Europe/Amsterdm"),
        "gateway.timezone",
        "did you mean Europe/Amsterdam?",
    ),
    "bad clock": (_set("gateway", "clock", "ntp"), "gateway.clock", '"meter"'),
    "gateway id with slash": (_set("gateway", "id", "GW/1"), "gateway.id", "no '/'"),
    "missing gateway id": (
        lambda d: d["gateway"].pop("id"),
        "gateway.id",
        'missing (required); add e.g. id = "GW-0001"',
    ),
    "missing connection": (lambda d: d.pop("connection"), "connection", "add [connection]"),
    "single-bracket points": (
        lambda d: d.update(allocation_point={"ean": PAP}),
        "allocation_point",
        "[[allocation_point]]",
    ),
    "gateway not a table": (
        lambda d: d.update(gateway="GW-1"),
        "gateway",
        "expected a table",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_mistake_names_the_key(name: str, tmp_path: Path) -> None:
    mutate, key, phrase = CASES[name]
    data = table(tmp_path / "data")
    mutate(data)
    message = error_of(data, tmp_path)
    assert message.startswith(f"{key}: "), message
    assert phrase in message, message


def test_setting_error_carries_the_key(tmp_path: Path) -> None:
    data = table(tmp_path / "data")
    data["connection"]["fuse_a"] = 36
    with pytest.raises(SettingError) as info:
        parse_config(data, tmp_path)
    assert info.value.key == "connection.fuse_a"
    assert isinstance(info.value, ValueError)


def test_five_secondaries_are_fine(tmp_path: Path) -> None:
    data = table(tmp_path / "data")
    data["allocation_point"] += [
        {"ean": secondary_ean(n), "role": "secondary", "source": f"/dev/p1-{n}"} for n in range(3)
    ]
    assert len(parse_config(data, tmp_path).secondaries) == 5


def test_check_ean_false_accepts_made_up_eans(tmp_path: Path) -> None:
    data = table(tmp_path / "data")
    data["connection"].update(ean="871687120000000001", check_ean=False)
    data["allocation_point"][0]["ean"] = "871687120000000001"
    data["allocation_point"][2]["source"] = "mbus:871687120000000001:2"
    data["allocation_point"][1]["ean"] = "871687120000000002"
    config = parse_config(data, tmp_path)
    assert config.primary.ean == "871687120000000001"
    assert config.point("871687120000000002").role == "secondary"
