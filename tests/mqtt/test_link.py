"""The gateway's grid link against a real mosquitto: order, PUBACK, outages, status, last will."""

from __future__ import annotations

from pathlib import Path

from edge.adapters.mqtt import GridLink
from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import day_topic, status_topic
from tests.mqtt.helpers import (
    TIMEOUT,
    drain_with_marker,
    enqueue,
    outbox_db,
    read_until,
    running_link,
    status_of,
)
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()

GW = "gw-link"
PREFIX = "p1edge/v1"
APS = ("871687120000000011", "871687120000000028", "871687120000000035")


def blocks(days: range) -> list[tuple[str, str, bytes]]:
    """Entries as a release makes them: per day, one block per point."""
    return [
        (ap, day_topic(PREFIX, GW, ap, f"2026-03-{day:02d}"), f"{ap}:{day}".encode())
        for day in days
        for ap in APS
    ]


def by_ap(payloads: list[bytes]) -> dict[str, list[int]]:
    order: dict[str, list[int]] = {}
    for payload in payloads:
        ap, day = payload.decode().split(":")
        order.setdefault(ap, []).append(int(day))
    return order


def day_payloads(messages: list) -> list[bytes]:  # type: ignore[type-arg]
    return [m.payload for m in messages if "/day/" in m.topic]


def test_delivered_in_order_per_point_and_removed_only_after_puback(
    broker: Broker, tmp_path: Path
) -> None:
    db = tmp_path / "gw.sqlite"
    with (
        outbox_db(db) as (conn, outbox),
        BlockingClient(broker.settings()) as watcher,
        running_link(broker.settings(), db, GW) as link,
    ):
        watcher.subscribe(f"{PREFIX}/{GW}/ap/#")
        assert link.wait(lambda s: s.connected, TIMEOUT).connected
        broker.pause()  # the broker reads nothing and acknowledges nothing
        try:
            enqueue(conn, outbox, blocks(range(1, 11)))
            link.wake()
            # the link has seen the entries and published the heads into its socket...
            status = link.wait(lambda s: True, TIMEOUT)
            # ...but without a PUBACK nothing leaves the outbox
            assert status.depth == outbox.depth() == 30
        finally:
            broker.resume()
        assert link.wait_settled(TIMEOUT).depth == 0
        assert outbox.depth() == 0
        received = day_payloads(drain_with_marker(watcher, watcher, f"{PREFIX}/{GW}/ap/x/marker"))
    assert by_ap(received) == {ap: list(range(1, 11)) for ap in APS}
    assert len(received) == 30  # each exactly once


def test_broker_killed_with_entries_in_flight_and_restarted(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite"
    with outbox_db(db) as (conn, outbox), running_link(broker.settings(), db, GW) as link:
        assert link.wait(lambda s: s.connected, TIMEOUT).connected
        broker.pause()
        enqueue(conn, outbox, blocks(range(1, 4)))
        link.wake()
        link.wait(lambda s: True, TIMEOUT)  # heads published, never acknowledged
        broker.kill()
        assert not link.wait(lambda s: not s.connected, TIMEOUT).connected
        enqueue(conn, outbox, blocks(range(4, 8)))  # days released while the broker is down
        link.wake()
        assert link.wait(lambda s: True, TIMEOUT).depth == 21
        with link.hold():  # the subscriber must be there before anything is re-sent
            broker.start()
            watcher = BlockingClient(broker.settings())
            try:
                watcher.connect()
                watcher.subscribe(f"{PREFIX}/{GW}/ap/#")
            except BaseException:
                watcher.close()  # no socket left to the garbage collector
                raise
        try:
            assert link.wait(lambda s: s.connected and s.depth == 0, TIMEOUT).depth == 0
            marker = f"{PREFIX}/{GW}/ap/x/marker"
            received = day_payloads(drain_with_marker(watcher, watcher, marker))
        finally:
            watcher.close()
    assert by_ap(received) == {ap: list(range(1, 8)) for ap in APS}  # in order, none lost
    assert len(received) == 21  # none duplicated


def test_retained_status_last_will_and_goodbye(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "gw.sqlite"
    topic = status_topic(PREFIX, "gw-status")
    link = GridLink(broker.settings(), gateway_id="gw-status", db_path=db)
    link.start()
    try:
        link.publish_status({"points": {APS[0]: {"regime": "quarter-hour"}}, "last_telegram": "t"})
        with BlockingClient(broker.settings()) as first:
            first.subscribe(topic)
            read_until(first, lambda m: "points" in status_of(m))
        with BlockingClient(broker.settings()) as late:  # joins later: gets the retained one
            late.subscribe(topic)
            seen = read_until(late, lambda m: True)
            status = status_of(seen[-1])
            assert seen[-1].retain
            assert status["online"] is True and status["gateway"] == "gw-status"
            assert status["outbox"] == {"capacity": 10000, "depth": 0, "full": False}
            assert status["points"][APS[0]] == {"regime": "quarter-hour"}
            assert status["alarms"] == []
            link.drop_connection()  # like a crash: the broker publishes the will
            will = read_until(late, lambda m: status_of(m)["online"] is False)[-1]
            assert status_of(will)["reason"] == "lost"
            back = read_until(late, lambda m: status_of(m)["online"] is True)[-1]
            assert status_of(back)["points"]  # the agent's fields survive a reconnect
    finally:
        link.stop()
    with BlockingClient(broker.settings()) as after:
        after.subscribe(topic)
        goodbye = read_until(after, lambda m: m.retain)[-1]
    assert status_of(goodbye) == {
        "gateway": "gw-status",
        "online": False,
        "reason": "stopped",
        "version": status_of(goodbye)["version"],
    }


def test_commands_reach_the_handler_and_replies_go_to_reply_topics(
    broker: Broker, tmp_path: Path
) -> None:
    got: list[tuple[str, bytes]] = []
    db = tmp_path / "gw.sqlite"

    def handler(command) -> None:  # type: ignore[no-untyped-def]
        got.append((command.kind, command.payload))
        link.publish_reply(command.kind, b'{"request_id": "r1"}')

    with (
        running_link(broker.settings(), db, "gw-cmd", on_command=handler) as link,
        BlockingClient(broker.settings()) as operator,
    ):
        assert link.wait(lambda s: s.connected, TIMEOUT).connected
        operator.subscribe(f"{PREFIX}/gw-cmd/cmd/+/reply")
        # the link subscribes right after its CONNACK; retry until it answers
        for _ in range(100):
            operator.publish(f"{PREFIX}/gw-cmd/cmd/consent", b"\xd2signed")
            reply = operator.receive(timeout=0.5)
            if reply is not None:
                break
        assert reply is not None
        assert reply.topic == f"{PREFIX}/gw-cmd/cmd/consent/reply"
        assert ("consent", b"\xd2signed") in got
