"""The two defects of `grid collect` found in the field, reproduced through the CLI.

1. A block claiming gateway A but signed with gateway B's (trusted) key was stored, and A's
   genuine block was then rejected as "seq reused": a key must be bound to its gateway.
2. After a broker restart the collector silently stopped receiving and reported "0 stored":
   it must reconnect (with backoff), subscribe again and go on.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import day_topic
from edge.blocks.keys import save_public_key
from edge.cli import main
from tests.blocks.factory import AP, GW, make_chain
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()
PREFIX = "p1edge/v1"
TIMEOUT = 30.0


def _stored(db: Path) -> list[bytes]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return [bytes(r[0]) for r in conn.execute("SELECT cose FROM block ORDER BY seq")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def _wait(condition: object, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _start(argv: list[str]) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(main(argv)), daemon=True)
    runner.start()
    return runner, result


def _publish_until_stored(broker: Broker, db: Path, topic: str, block: bytes, n: int) -> None:
    """Publish `block` until the store holds `n` blocks (the collector subscribes when ready)."""
    with BlockingClient(broker.settings()) as client:
        deadline = time.monotonic() + TIMEOUT
        while len(_stored(db)) < n:
            assert time.monotonic() < deadline, "the collector never stored the block"
            client.publish(topic, block)
            time.sleep(0.1)  # pacing only; the condition is what is awaited


def test_a_block_signed_with_another_gateways_key_is_rejected(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keys = tmp_path / "keys"
    keys.mkdir()
    save_public_key(own, keys / f"{GW}.pub")
    save_public_key(other, keys / "gw-0002.pub")
    forged = make_chain(other, 1)[0]  # claims gateway GW, signed with gw-0002's key
    genuine = make_chain(own, 1)[0]
    db = tmp_path / "grid.sqlite"
    topic = day_topic(PREFIX, GW, AP, "2026-03-01")
    argv = ["grid", "collect", "--broker", broker.url, "--pubkeys", str(keys), "--db", str(db)]
    runner, result = _start([*argv, "--until", "1", "--timeout", str(TIMEOUT)])
    with BlockingClient(broker.settings()) as client:
        # the forged one first, repeated until the collector has seen it (it must not store it)
        deadline = time.monotonic() + TIMEOUT
        while "not the key of gateway" not in capsys.readouterr().out and not _stored(db):
            assert time.monotonic() < deadline
            client.publish(topic, forged)
            time.sleep(0.1)
    _publish_until_stored(broker, db, topic, genuine, 1)
    runner.join(TIMEOUT)
    assert result == [0]
    assert _stored(db) == [genuine]


def test_collect_goes_on_after_a_broker_restart(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = Ed25519PrivateKey.generate()
    keys = tmp_path / "keys"
    keys.mkdir()
    save_public_key(key, keys / f"{GW}.pub")
    blocks = make_chain(key, 2)
    db = tmp_path / "grid.sqlite"
    argv = ["grid", "collect", "--broker", broker.url, "--pubkeys", str(keys), "--db", str(db)]
    runner, result = _start([*argv, "--until", "2", "--timeout", str(3 * TIMEOUT)])
    _publish_until_stored(broker, db, day_topic(PREFIX, GW, AP, "2026-03-01"), blocks[0], 1)
    broker.restart()
    _publish_until_stored(broker, db, day_topic(PREFIX, GW, AP, "2026-03-02"), blocks[1], 2)
    runner.join(TIMEOUT)
    assert result == [0]
    assert "collected: 2 stored" in capsys.readouterr().out
