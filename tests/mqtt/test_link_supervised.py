"""The grid link under its supervisor: its own failures are alarms, retried, never its death."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import day_topic, status_topic
from tests.mqtt.helpers import TIMEOUT, enqueue, outbox_db, read_until, running_link, status_of
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()

GW = "gw-sup"
PREFIX = "p1edge/v1"
AP = "871687120000000011"
HOLD_S = 12  # longer than the link's busy timeout (5 s): the link's transaction fails

LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def eventually(condition: Callable[[], bool]) -> bool:
    """Poll `condition` until it holds or TIMEOUT passes (never a fixed sleep)."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _alarms(message: object) -> list[str]:
    return [a["alarm"] for a in status_of(message)["alarms"]]  # type: ignore[arg-type]


def test_a_database_locked_by_another_process_is_an_alarm_and_delivery_resumes(
    broker: Broker, tmp_path: Path
) -> None:
    db = tmp_path / "gw.sqlite"
    topic = status_topic(PREFIX, GW)
    with (
        outbox_db(db) as (conn, outbox),
        BlockingClient(broker.settings()) as watcher,
        running_link(broker.settings(), db, GW) as link,
    ):
        watcher.subscribe(topic)
        watcher.subscribe(f"{PREFIX}/{GW}/ap/#")
        assert link.wait(lambda s: s.connected, TIMEOUT).connected
        with subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db), str(HOLD_S)],
            stdout=subprocess.PIPE,
            text=True,
        ) as locker:
            assert locker.stdout is not None and locker.stdout.readline() == "locked\n"
            link.wake()  # the link's next transaction waits 5 s for the lock, then fails
            failed = read_until(
                watcher, lambda m: m.topic == topic and "grid-link-failed" in _alarms(m)
            )[-1]
            assert status_of(failed)["online"] is True
            assert "database is locked" in str(status_of(failed)["alarms"])
            assert eventually(lambda: "grid link" in {a.key for a in link.health.alarms()})
            assert eventually(lambda: link.health.states()["grid"]["state"] == "backoff")
            locker.wait(timeout=HOLD_S + TIMEOUT)
        # the lock is gone: the link, retried by its supervisor, delivers and clears the alarm
        day = day_topic(PREFIX, GW, AP, "2026-03-01")
        enqueue(conn, outbox, [(AP, day, b"block")])
        link.wake()
        seen = read_until(watcher, lambda m: m.topic == day)
        assert seen[-1].payload == b"block"
        assert link.wait_settled(TIMEOUT).depth == 0
        assert link.wait(lambda s: s.link_error is None, TIMEOUT).link_error is None
        read_until(watcher, lambda m: m.topic == topic and _alarms(m) == [])
        assert eventually(lambda: link.health.alarms() == []) and link.health.fatal is None
