"""Parsed values: sources, dialect keys, brokers, defaults and the Config accessors."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from edge.config import (
    BrokerUrl,
    Clock,
    Dialect,
    MBusSource,
    Role,
    SerialSource,
    parse_broker,
    parse_config,
    parse_source,
)
from edge.errors import ConfigError
from edge.policy import Regime, UnknownAllocationPointError
from tests.config.support import EV, PAP, PV, table


def test_defaults(tmp_path: Path) -> None:
    data = table(tmp_path / "data")
    del data["grid"], data["local"]
    config = parse_config(data, tmp_path)
    assert config.gateway.timezone == "Europe/Amsterdam"
    assert config.gateway.clock is Clock.SYSTEM
    assert config.grid is None and config.local is None and config.path is None
    assert config.signing.key == tmp_path / "keys" / "gateway.key"
    assert config.policy.regime is Regime.QUARTER_HOUR
    assert config.policy.max_backfill_days == 40
    assert config.primary.dialect is Dialect.AUTO


def test_points_primary_first_and_lookup(tmp_path: Path) -> None:
    data = table(tmp_path / "data")
    data["allocation_point"].reverse()
    config = parse_config(data, tmp_path)
    assert config.primary.ean == PAP and config.primary.role is Role.PRIMARY
    assert [p.ean for p in config.points] == [PAP, PV, EV]
    assert [p.ean for p in config.secondaries] == [PV, EV]
    assert config.point(PV).source == MBusSource(PAP, 2)
    with pytest.raises(UnknownAllocationPointError, match="is not an allocation point"):
        config.point("871687120000000035")


def test_point_regime_reaches_policy(tmp_path: Path) -> None:
    data = table(tmp_path / "data")
    data["policy"] = {"regime": "monthly", "push_window": "02:00-04:00"}
    data["allocation_point"][1]["regime"] = "quarter-hour"
    config = parse_config(data, tmp_path)
    assert config.policy.regime_of(PAP) is Regime.MONTHLY
    assert config.policy.regime_of(EV) is Regime.QUARTER_HOUR
    assert str(config.policy.push_window) == "02:00-04:00"
    assert config.policy.gateway_id == "GW-0001"


def test_encrypted_point_keys(tmp_path: Path) -> None:
    data = table(tmp_path / "data")
    key, auth = "000102030405060708090A0B0C0D0E0F", "ff" * 16
    data["allocation_point"][1].update(dialect="smarty", key=key, auth_key=auth)
    point = parse_config(data, tmp_path).point(EV)
    assert point.key == bytes(range(16)) and point.auth_key == b"\xff" * 16
    assert key not in repr(point) and "key=" not in repr(point)


def test_config_is_frozen(tmp_path: Path) -> None:
    config = parse_config(table(tmp_path / "data"), tmp_path)
    with pytest.raises(FrozenInstanceError):
        config.gateway.id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    ["/dev/ttyUSB0", "/dev/serial0", "socket://10.0.0.5:2000", "rfc2217://[::1]:7000", "loop://"],
)
def test_serial_sources(text: str, tmp_path: Path) -> None:
    assert parse_source(text, "k", tmp_path) == SerialSource(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mqtt://broker", BrokerUrl("mqtt", "broker", 1883)),
        ("mqtts://broker", BrokerUrl("mqtts", "broker", 8883)),
        ("mqtt://127.0.0.1:1884", BrokerUrl("mqtt", "127.0.0.1", 1884)),
        ("mqtts://[::1]:8884/", BrokerUrl("mqtts", "::1", 8884)),
    ],
)
def test_broker_urls(text: str, expected: BrokerUrl) -> None:
    assert parse_broker(text, "grid.broker") == expected


def test_broker_url_text() -> None:
    assert str(BrokerUrl("mqtts", "::1", 8884)) == "mqtts://[::1]:8884"
    assert BrokerUrl("mqtts", "h", 1).tls and not BrokerUrl("mqtt", "h", 1).tls


@pytest.mark.parametrize("text", ["ws://broker", "broker:1883", "mqtt://broker/topic"])
def test_bad_broker_urls(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^local\.broker: "):
        parse_broker(text, "local.broker")


def test_grid_and_local_options(tmp_path: Path) -> None:
    data = table(tmp_path / "data")
    data["grid"].update(protocol="3.1.1", prefix="dso/p1", keepalive=30, username="")
    data["local"].update(homeassistant_discovery=False, peak_warning_margin=0, live_interval_s=1)
    config = parse_config(data, tmp_path)
    assert config.grid is not None and config.local is not None
    assert (config.grid.protocol, config.grid.prefix, config.grid.keepalive) == (
        "3.1.1",
        "dso/p1",
        30,
    )
    assert config.grid.username is None
    assert config.local.prefix == "p1edge/local"
    assert config.local.peak_warning_margin == 0.0
    assert not config.local.homeassistant_discovery


def test_protocol_as_integer(tmp_path: Path) -> None:
    data = table(tmp_path / "data")
    data["grid"]["protocol"] = 5
    config = parse_config(data, tmp_path)
    assert config.grid is not None and config.grid.protocol == "5"
