"""MQTT 3.1.1 cannot report refused publishes (issue 11 item 14): said at start-up and in status."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.helpers import PRIMARY, edge
from tests.release.helpers import make_gateway
from tests.release.test_hostile import agent
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()


def test_311_warns_at_start_and_in_status(tmp_path: Path, broker: Broker) -> None:
    gateway = make_gateway(tmp_path, broker.url)
    text = gateway.config.read_text()
    gateway.config.write_text(text.replace('prefix = "', 'protocol = "3.1.1"\nprefix = "', 1))
    gateway.feed("2026-03-27T00:00:00+01:00", "1h")
    with agent(gateway) as process:
        status = json.loads(edge("status", "--config", str(gateway.config), "--json").stdout)
        assert process.poll() is None
    assert "mqtt-3.1.1-refusals-undetectable" in status["points"][PRIMARY]["alarms"]
    assert "cannot be detected" in status["links"]["grid"]["note"]


def test_311_start_up_log_line(tmp_path: Path, broker: Broker) -> None:
    gateway = make_gateway(tmp_path, broker.url)
    text = gateway.config.read_text()
    gateway.config.write_text(text.replace('prefix = "', 'protocol = "3.1.1"\nprefix = "', 1))
    gateway.feed("2026-03-27T00:00:00+01:00", "1h")
    result = gateway.run()
    assert result.returncode == 0, result.stderr
    assert "grid.protocol = 3.1.1" in result.stderr and "refused" in result.stderr
    five = make_gateway(tmp_path / "five", broker.url)
    five.feed("2026-03-27T00:00:00+01:00", "1h")
    assert "grid.protocol = 3.1.1" not in five.run().stderr  # MQTT 5 stays the default
