"""A broker that refuses the gateway's publishes (ACL, MQTT 5 reason 0x87): the blocks stay in
the outbox, `--until-eof` says so with its exit code, and the status shows why."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.helpers import PRIMARY, edge
from tests.release.helpers import make_gateway
from tests.support.mosquitto import Broker, mosquitto_fixture

# The gateway logs in as a user whose own prefix is not the gateway's: every block is refused.
broker = mosquitto_fixture(users={"GW-OTHER": "secret"}, acl="pattern write p1edge/v1/%u/#\n")


def test_refused_blocks_stay_queued_and_show_in_status(tmp_path: Path, broker: Broker) -> None:
    gateway = make_gateway(tmp_path, broker.url)
    password = broker.password_file("GW-OTHER")
    text = gateway.config.read_text().replace(
        "[grid]\n", f'[grid]\nusername = "GW-OTHER"\npassword_file = "{password}"\n'
    )
    gateway.config.write_text(text)
    gateway.feed("2026-03-27T00:00:00+01:00", "31h")  # day 27 is released on the 28th
    result = gateway.run("--drain-timeout", "5")
    assert result.returncode == 1, result.stderr
    status = json.loads(edge("status", "--config", str(gateway.config), "--json").stdout)
    point = status["points"][PRIMARY]
    assert point["outbox_depth"] == 1
    assert point["alarms"] == ["publish-refused (Not authorized (0x87))"]
