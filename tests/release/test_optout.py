"""Opt-out: undelivered blocks leave the outbox, nothing of the point leaves the gateway any
more, and days recorded while opted out are never released, also not after opting in again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.integration.helpers import PRIMARY, SECONDARY_EV, edge
from tests.release.helpers import Watcher, consumer_log, make_gateway
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()


def outbox_days(data: Path, ap: str) -> list[str]:
    conn = sqlite3.connect(data / "p1edge.sqlite")
    try:
        rows = conn.execute("SELECT topic FROM outbox WHERE ap = ? ORDER BY id", (ap,)).fetchall()
    finally:
        conn.close()
    return [topic.rsplit("/", 1)[1] for (topic,) in rows]


def test_opt_out_deletes_queued_blocks_and_blocks_its_days_forever(
    tmp_path: Path, broker: Broker
) -> None:
    gateway = make_gateway(tmp_path, broker.url)
    data = tmp_path / "data"
    # A: days 27 and 28 released and delivered
    gateway.feed("2026-03-27T00:00:00+01:00", "55h")
    assert gateway.run().returncode == 0
    # B: the broker is down; days 29 and 30 are released but wait in the outbox
    broker.stop()
    gateway.feed("2026-03-29T07:00:00+02:00", "48h")
    stuck = gateway.run("--drain-timeout", "2")
    assert stuck.returncode == 1  # --until-eof could not empty the outbox: said so
    assert outbox_days(data, SECONDARY_EV) == ["2026-03-29", "2026-03-30"]
    # the customer opts the EV charger out: its undelivered blocks go at once
    opt_out = edge("consent", "--config", str(gateway.config), "--ap", SECONDARY_EV, "opt-out")
    assert opt_out.returncode == 0 and "2 undelivered blocks deleted" in opt_out.stdout
    assert outbox_days(data, SECONDARY_EV) == []
    assert outbox_days(data, PRIMARY) == ["2026-03-29", "2026-03-30"]
    shown = json.loads(
        edge("consent", "--config", str(gateway.config), "--ap", SECONDARY_EV, "show").stdout
    )
    assert shown["consent"] == "opted-out"
    broker.start()
    watcher = Watcher(broker.settings())
    try:
        # C: back online while opted out; D: opted in again for the next days
        gateway.feed("2026-03-31T07:00:00+02:00", "24h")
        assert gateway.run().returncode == 0
        assert (
            edge(
                "consent", "--config", str(gateway.config), "--ap", SECONDARY_EV, "opt-in"
            ).returncode
            == 0
        )
        gateway.feed("2026-04-01T07:00:00+02:00", "48h")
        assert gateway.run().returncode == 0
    finally:
        watcher.close()
    # the blocks queued during the outage arrive after it, in order, each once, none lost
    primary_days = [t.rsplit("/", 1)[1] for t in watcher.day_topics(PRIMARY)]
    assert primary_days == ["2026-03-29", "2026-03-30", "2026-03-31", "2026-04-01", "2026-04-02"]
    # not a byte of the EV point's days while opted out, and its opted-out days never later
    assert [t.rsplit("/", 1)[1] for t in watcher.day_topics(SECONDARY_EV)] == ["2026-04-02"]
    statuses = [json.loads(p) for t, p in watcher.seen if t.endswith("/status")]
    assert any(
        s.get("points", {}).get(SECONDARY_EV, {}).get("consent") == "opted-out" for s in statuses
    )
    kinds = [(e["kind"], e["ap"]) for e in consumer_log(gateway.config)]
    assert ("consent", SECONDARY_EV) in kinds
