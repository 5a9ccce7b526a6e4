"""hw/mosquitto-grid.conf + .acl on a real mosquitto: each gateway writes only under its prefix.

The broker runs the shipped files themselves; only what cannot be the same on a test machine
is replaced (port on 127.0.0.1, generated certificates, password file, log and persistence in
the test's directory). Everything else, the ACL verbatim, is what a grid operator installs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.adapters.mqtt_blocking import BlockingClient, Message
from edge.adapters.mqtt_topics import command_topic, day_filter, day_topic, status_topic
from edge.errors import MqttError, PublishRefusedError
from tests.support.mosquitto import SKIP_REASON, Broker, make_broker, mosquitto_binary

HW = Path(__file__).resolve().parents[2] / "hw"
PREFIX = "p1edge/v1"
USERS = {"GW-1": "gw1 secret", "GW-2": "gw2 secret", "collector": "collector secret"}
EAN = "871687120000000004"


def adapted_conf(broker: Broker) -> str:
    """hw/mosquitto-grid.conf with the machine-specific paths and the port replaced."""
    assert broker.server is not None
    replace = {
        "persistence_location": f"{broker.workdir}/",
        "log_dest": f"file {broker.log}",
        "password_file": str(broker.workdir / "passwd"),
        "acl_file": str(broker.workdir / "acl"),
        "listener": f"{broker.port} {broker.host}",
        "cafile": str(broker.server.ca),
        "certfile": str(broker.server.cert),
        "keyfile": str(broker.server.key),
    }
    lines = ["user root"] if os.geteuid() == 0 else []  # else mosquitto drops to its own user
    seen = set()
    for line in (HW / "mosquitto-grid.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if not line.strip() or line.startswith("#"):
            continue
        if key in replace:
            seen.add(key)
            line = f"{key} {replace[key]}"
        lines.append(line)
    assert seen == set(replace), f"the example lost a directive: {set(replace) - seen}"
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    if mosquitto_binary() is None:
        pytest.skip(SKIP_REASON)
    acl = (HW / "mosquitto-grid.acl").read_text()
    started = make_broker(tmp_path_factory.mktemp("grid-broker"), users=USERS, acl=acl, tls=True)
    started.config.write_text(adapted_conf(started))
    started.start()
    try:
        yield started
    finally:
        started.stop()


def client(broker: Broker, user: str) -> BlockingClient:
    return BlockingClient(broker.settings(user), client_id=f"test-{user}", timeout=20)


def receive(subscriber: BlockingClient, topic: str) -> Message:
    while True:
        message = subscriber.receive(timeout=20)
        assert message is not None, f"{topic} never arrived"
        if message.topic == topic:
            return message


def test_the_example_uses_tls_and_no_anonymous_access() -> None:
    conf = (HW / "mosquitto-grid.conf").read_text().splitlines()
    for directive in ("listener 8883", "allow_anonymous false", "require_certificate false"):
        assert directive in conf
    assert any(line.startswith(("password_file ", "acl_file ", "keyfile ")) for line in conf)


def test_a_gateway_publishes_under_its_own_prefix_only(broker: Broker) -> None:
    mine = day_topic(PREFIX, "GW-1", EAN, "2026-03-01")
    with client(broker, "GW-1") as gw1:
        gw1.publish(mine, b"block")  # MQTT 5 PUBACK: success
        gw1.publish(status_topic(PREFIX, "GW-1"), b"{}", retain=True)
        for foreign in (
            day_topic(PREFIX, "GW-2", EAN, "2026-03-01"),
            status_topic(PREFIX, "GW-2"),
            command_topic(PREFIX, "GW-2", "readout"),
        ):
            with pytest.raises(PublishRefusedError, match=r"Not authorized \(0x87\)"):
                gw1.publish(foreign, b"forged")


def test_the_collector_reads_day_blocks_and_status_and_sends_commands(broker: Broker) -> None:
    block = day_topic(PREFIX, "GW-1", EAN, "2026-03-02")
    with client(broker, "collector") as collector, client(broker, "GW-1") as gw1:
        collector.subscribe(day_filter(PREFIX), f"{PREFIX}/+/status")
        gw1.subscribe(f"{PREFIX}/GW-1/cmd/+")
        gw1.publish(block, b"signed block")
        assert receive(collector, block).payload == b"signed block"
        gw1.publish(status_topic(PREFIX, "GW-1"), b'{"online": true}', retain=True)
        assert receive(collector, status_topic(PREFIX, "GW-1")).payload == b'{"online": true}'
        request = command_topic(PREFIX, "GW-1", "readout")
        collector.publish(request, b"signed request")
        assert receive(gw1, request).payload == b"signed request"
        # the collector is no gateway: it cannot publish day blocks in anybody's name
        with pytest.raises(PublishRefusedError, match="0x87"):
            collector.publish(day_topic(PREFIX, "GW-1", EAN, "2026-03-03"), b"forged")


def test_a_gateway_never_receives_another_gateways_commands(broker: Broker) -> None:
    other = command_topic(PREFIX, "GW-2", "consent")
    mine = command_topic(PREFIX, "GW-1", "consent")
    with client(broker, "collector") as collector, client(broker, "GW-1") as gw1:
        try:
            gw1.subscribe(f"{PREFIX}/GW-2/cmd/+", f"{PREFIX}/GW-1/cmd/+")
        except MqttError as exc:  # mosquitto may refuse the subscription itself: also fine
            assert "GW-2" in str(exc)
            gw1.subscribe(f"{PREFIX}/GW-1/cmd/+")
        collector.publish(other, b"for GW-2")
        collector.publish(mine, b"for GW-1")
        # delivery is in order on one connection: GW-1's own command comes, GW-2's never did
        assert receive(gw1, mine).payload == b"for GW-1"
        assert gw1.messages.empty()


def test_anonymous_and_wrong_passwords_are_refused(broker: Broker) -> None:
    anonymous = BlockingClient(broker.settings(), timeout=20)
    with pytest.raises(MqttError, match="refused the connection"):
        anonymous.connect()
    wrong = dataclasses.replace(broker.settings("GW-1"), password="not the password")
    with pytest.raises(MqttError, match="refused the connection"):
        BlockingClient(wrong, timeout=20).connect()
    # and a valid user that is not in the password file
    stranger = dataclasses.replace(broker.settings("GW-1"), username="GW-3")
    with pytest.raises(MqttError, match="refused the connection"):
        BlockingClient(stranger, timeout=20).connect()
