"""A broker as a grid operator runs it: TLS with its own CA, passwords, an ACL per gateway."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from edge.adapters.mqtt_blocking import BlockingClient, Message
from edge.adapters.mqtt_config import BrokerSettings
from edge.adapters.mqtt_topics import day_topic, status_topic
from edge.errors import ConfigError, MqttError
from tests.mqtt.helpers import TIMEOUT, enqueue, outbox_db, read_until, running_link, status_of
from tests.support.certs import TestCA
from tests.support.mosquitto import Broker, mosquitto_fixture

ACL = """\
user grid
topic readwrite #

pattern write p1edge/v1/%u/#
pattern read p1edge/v1/%u/cmd/#
"""
USERS = {"gw-acl": "gateway secret", "grid": "operator secret"}
broker = mosquitto_fixture(users=USERS, acl=ACL, tls=True)
PREFIX = "p1edge/v1"


def test_the_gateway_may_write_only_under_its_prefix(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite"
    mine = day_topic(PREFIX, "gw-acl", "871687120000000011", "2026-03-01")
    foreign = day_topic(PREFIX, "gw-other", "871687120000000028", "2026-03-01")
    with (
        outbox_db(db) as (conn, outbox),
        BlockingClient(broker.settings("grid")) as operator,
        running_link(broker.settings("gw-acl"), db, "gw-acl") as link,
    ):
        operator.subscribe(f"{PREFIX}/#")
        enqueue(
            conn,
            outbox,
            [("871687120000000028", foreign, b"no"), ("8716871200000011", mine, b"ok")],
        )
        link.wake()
        status = link.wait_settled(TIMEOUT)
        # refused, not lost: the entry stays, with the broker's reason, and it is an alarm
        assert status.stuck and status.depth == 1
        [failure] = status.failures
        assert (failure.topic, failure.error) == (foreign, "Not authorized (0x87)")
        [entry] = outbox.entries()
        assert entry.topic == foreign and entry.attempts >= 1
        seen: list[Message] = []

        def alarmed(message: Message) -> bool:
            return message.topic == status_topic(PREFIX, "gw-acl") and bool(
                status_of(message)["alarms"]
            )

        while not (any(map(alarmed, seen)) and mine in [m.topic for m in seen]):
            seen += read_until(operator, lambda m: alarmed(m) or m.topic == mine)
        status_message = next(m for m in seen if alarmed(m))
        alarm = status_of(status_message)["alarms"][0]
        assert alarm["alarm"] == "publish-refused" and alarm["error"] == "Not authorized (0x87)"
        assert status_of(status_message)["outbox"]["depth"] >= 1
        assert foreign not in [m.topic for m in seen]


def test_mqtt_3_1_1_connects_but_cannot_see_refusals(broker: Broker, tmp_path: Path) -> None:
    # documented limitation: a 3.1.1 PUBACK has no reason code and mosquitto acknowledges what
    # its ACL drops, so the entry leaves the outbox although nobody received it
    db = tmp_path / "gw.sqlite"
    foreign = day_topic(PREFIX, "gw-other", "871687120000000028", "2026-03-02")
    settings = broker.settings("gw-acl", protocol="3.1.1")
    with outbox_db(db) as (conn, outbox), running_link(settings, db, "gw-acl") as link:
        enqueue(conn, outbox, [("871687120000000028", foreign, b"dropped")])
        link.wake()
        status = link.wait(lambda s: s.connected and s.settled, TIMEOUT)
        assert status.depth == 0 and status.failures == ()


def test_tls_verifies_the_server_against_the_configured_ca(broker: Broker, tmp_path: Path) -> None:
    assert broker.url.startswith("mqtts://")
    with BlockingClient(broker.settings("grid")) as client:
        client.publish(f"{PREFIX}/probe", b"over TLS")
    stranger = TestCA(tmp_path, name="some other CA")
    wrong_ca = dataclasses.replace(broker.settings("grid"), ca_file=stranger.ca_file)
    with pytest.raises(MqttError, match="certificate verify failed"):
        BlockingClient(wrong_ca).connect()


def test_the_link_reports_a_wrong_password_and_keeps_trying(broker: Broker, tmp_path: Path) -> None:
    wrong = dataclasses.replace(broker.settings("gw-acl"), password="guess")
    with running_link(wrong, tmp_path / "gw.sqlite", "gw-acl") as link:
        status = link.wait(lambda s: s.connect_error is not None, TIMEOUT)
    assert not status.connected
    assert "Not authorized" in (status.connect_error or "")


def test_password_comes_from_a_file_named_in_the_settings(broker: Broker, tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("operator secret\n")
    settings = BrokerSettings.from_config(
        broker.url,
        username="grid",
        password_file=path,
        ca_file=broker.ca.ca_file,  # type: ignore[union-attr]
    )
    assert settings.password == "operator secret"
    with BlockingClient(settings) as client:
        client.subscribe(f"{PREFIX}/#")
    with pytest.raises(ConfigError, match=r"grid\.password_file"):
        BrokerSettings.from_config(broker.url, username="grid", password_file=tmp_path / "nope")
