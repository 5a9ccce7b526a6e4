"""Simulator -> agent (meter time) -> real mosquitto -> collector: every complete day arrives
once, verified, chained; today never."""

from __future__ import annotations

from pathlib import Path

import cbor2

from tests.integration.helpers import PRIMARY, SECONDARY_EV
from tests.release.helpers import Watcher, collect, consumer_log, make_gateway
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()


def test_every_complete_day_arrives_once_verified_and_chained(
    tmp_path: Path, broker: Broker
) -> None:
    gateway = make_gateway(tmp_path, broker.url)
    watcher = Watcher(broker.settings())
    collector = collect(broker.url, gateway.keys(), tmp_path / "collected.sqlite", until=6)
    try:
        # 27, 28 and the 23-hour DST day 29 complete; the 30th runs until 07:00 (after the push)
        gateway.feed("2026-03-27T00:00:00+01:00", "78h")
        result = gateway.run()
        assert result.returncode == 0, result.stderr
        out, errors = collector.communicate(timeout=240)
    finally:
        watcher.close()
        if collector.poll() is None:
            collector.kill()
    assert collector.returncode == 0, errors
    lines = out.splitlines()
    assert sum(line.startswith("ok ") for line in lines) == 6, out
    assert lines[-1] == "collected: 6 stored, 0 duplicates, 0 rejected, 0 gaps", out
    for ap in (PRIMARY, SECONDARY_EV):
        days = sorted(t.rsplit("/", 1)[1] for t in watcher.day_topics(ap))
        assert days == ["2026-03-27", "2026-03-28", "2026-03-29"]  # each once; never today
    for topic, payload in watcher.seen:
        if "/day/" in topic:  # a released day is final: its closing midnight was read
            body = cbor2.loads(cbor2.loads(payload).value[2])
            assert body["status"][-1] == "measured", (topic, body["status"][-3:])
            assert all(body["readings"][r][-1] is not None for r in body["readings"])
    releases = [e for e in consumer_log(gateway.config) if e["kind"] == "release"]
    assert len(releases) == 6  # one release per point per day it ran, each logged


def test_monthly_regime_releases_one_verified_month_block(tmp_path: Path, broker: Broker) -> None:
    gateway = make_gateway(tmp_path, broker.url)
    text = gateway.config.read_text().replace(
        f'ean = "{SECONDARY_EV}"\nrole = "secondary"',
        f'ean = "{SECONDARY_EV}"\nrole = "secondary"\nregime = "monthly"',
    )
    gateway.config.write_text(text)
    watcher = Watcher(broker.settings())
    collector = collect(broker.url, gateway.keys(), tmp_path / "collected.sqlite", until=4)
    try:
        # 30 March to 2 April 07:00: March ends on the way, April does not
        gateway.feed("2026-03-30T00:00:00+02:00", "79h")
        assert gateway.run().returncode == 0
        out, errors = collector.communicate(timeout=240)
    finally:
        watcher.close()
        if collector.poll() is None:
            collector.kill()
    assert collector.returncode == 0, errors
    assert out.splitlines()[-1] == "collected: 4 stored, 0 duplicates, 0 rejected, 0 gaps", out
    days = [t.rsplit("/", 1)[1] for t in watcher.day_topics(PRIMARY)]
    assert days == ["2026-03-30", "2026-03-31", "2026-04-01"]
    assert watcher.day_topics(SECONDARY_EV) == []
    months = [t for t, _ in watcher.seen if f"/ap/{SECONDARY_EV}/month/" in t]
    assert [t.rsplit("/", 1)[1] for t in months] == ["2026-03"]
    (payload,) = [p for t, p in watcher.seen if t == months[0]]
    body = cbor2.loads(cbor2.loads(payload).value[2])
    assert body["month"] == "2026-03" and body["start"] == "2026-02-28T23:00:00Z"
    assert body["status"] == ["missing", "measured"]  # the gateway saw only the month's end
    assert body["readings"]["import_t1"][0] is None and body["readings"]["import_t1"][1] > 0
