"""The collector's cheaper MQTT 5 properties (edge.grid.paho_speed): installed, and a PUBLISH
that carries properties still arrives with them, through a real mosquitto."""

from __future__ import annotations

import queue
import threading

from paho.mqtt import _packet
from paho.mqtt.client import Client, MQTTMessage, MQTTv5
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.grid import subscriber  # noqa: F401  (installs it, as the collector does)
from edge.grid.paho_speed import PublishProperties, install
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()


def test_installed_for_the_collector() -> None:
    assert install() is True
    assert _packet.Properties is PublishProperties


def test_properties_arrive_as_sent_and_plain_publishes_carry_none(broker: Broker) -> None:
    received: queue.SimpleQueue[MQTTMessage] = queue.SimpleQueue()
    subscribed = threading.Event()
    settings = broker.settings()
    sub = Client(CallbackAPIVersion.VERSION2, client_id="props-sub", protocol=MQTTv5)
    sub.on_message = lambda _c, _u, message: received.put(message)
    sub.on_subscribe = lambda *_args: subscribed.set()
    sub.on_connect = lambda client, *_args: client.subscribe("props/#", 1)
    sub.connect(settings.host, settings.port)
    sub.loop_start()
    pub = Client(CallbackAPIVersion.VERSION2, client_id="props-pub", protocol=MQTTv5)
    pub.connect(settings.host, settings.port)
    pub.loop_start()
    try:
        assert subscribed.wait(10), "no SUBACK"
        sent = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        sent.ContentType = "application/cose"
        sent.UserProperty = [("gw", "gw-1"), ("n", "2")]
        sent.MessageExpiryInterval = 600
        pub.publish("props/a", b"first", qos=1, properties=sent)
        pub.publish("props/b", b"plain", qos=1)
        first, plain = received.get(timeout=10), received.get(timeout=10)
    finally:
        for client in (pub, sub):
            client.disconnect()
            client.loop_stop()
    assert (first.payload, plain.payload) == (b"first", b"plain")  # one session: in order
    props = first.properties
    assert isinstance(props, PublishProperties)
    assert props.ContentType == "application/cose"
    assert props.UserProperty == [("gw", "gw-1"), ("n", "2")]
    assert 0 < props.MessageExpiryInterval <= 600
    assert props.json()["ContentType"] == "application/cose"
    assert isinstance(plain.properties, PublishProperties) and plain.properties.isEmpty()
    assert not hasattr(plain.properties, "ContentType")  # the tables are shared, values not
