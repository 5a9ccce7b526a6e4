"""Shared pieces of the MQTT tests: a running grid link on a fresh database, message readers."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edge.adapters.mqtt import GridLink
from edge.adapters.mqtt_blocking import BlockingClient, Message
from edge.adapters.mqtt_config import BrokerSettings
from edge.store.db import connect
from edge.store.outbox import Outbox

TIMEOUT = 30.0  # generous: conditions are awaited, never timed


@contextmanager
def outbox_db(path: Path) -> Iterator[tuple[sqlite3.Connection, Outbox]]:
    """The gateway database and an outbox on it, for the test's (the agent's) thread."""
    conn = connect(path)
    try:
        yield conn, Outbox(conn)
    finally:
        conn.close()


def enqueue(conn: sqlite3.Connection, outbox: Outbox, items: list[tuple[str, str, bytes]]) -> None:
    """Queue (ap, topic, payload) items in one transaction, as a release would."""
    conn.execute("BEGIN IMMEDIATE")
    for ap, topic, payload in items:
        outbox.enqueue(ap, topic, payload, now=1_700_000_000)
    conn.execute("COMMIT")


@contextmanager
def running_link(settings: BrokerSettings, db: Path, gw: str, **options: Any) -> Iterator[GridLink]:
    """A started `GridLink`; stopped (goodbye status, threads joined) afterwards."""
    link = GridLink(settings, gateway_id=gw, db_path=db, **options)
    link.start()
    try:
        yield link
    finally:
        link.stop()


def read_until(client: BlockingClient, stop: Callable[[Message], bool]) -> list[Message]:
    """Messages received up to and including the first one for which `stop` is true."""
    seen: list[Message] = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        message = client.receive(timeout=deadline - time.monotonic())
        if message is None:
            break
        seen.append(message)
        if stop(message):
            return seen
    raise AssertionError(f"condition not met in {TIMEOUT} s; got {[m.topic for m in seen]}")


def drain_with_marker(client: BlockingClient, sender: BlockingClient, topic: str) -> list[Message]:
    """Everything `client` receives before a marker that `sender` publishes now on `topic`.

    mosquitto handles messages one at a time, so whatever it forwarded before the marker arrives
    before it: no sleeping to be sure that nothing more (no duplicate) is coming.
    """
    sender.publish(topic, b"marker")
    messages = read_until(client, lambda m: m.topic == topic and m.payload == b"marker")
    return messages[:-1]


def status_of(message: Message) -> dict[str, Any]:
    """A status message's JSON."""
    body = json.loads(message.payload)
    assert isinstance(body, dict)
    return body
