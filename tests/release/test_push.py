"""Simulator -> agent (meter time) -> real mosquitto -> collector: every complete day arrives
once, verified, chained; today never."""

from __future__ import annotations

from pathlib import Path

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
    releases = [e for e in consumer_log(gateway.config) if e["kind"] == "release"]
    assert len(releases) == 6  # one release per point per day it ran, each logged


def test_monthly_regime_is_refused_at_start_not_silently_skipped(tmp_path: Path) -> None:
    gateway = make_gateway(tmp_path, "mqtt://127.0.0.1:1")
    text = gateway.config.read_text() + '\n[policy]\nregime = "monthly"\n'
    gateway.config.write_text(text)
    gateway.feed("2026-03-27T00:00:00+01:00", "2h")
    result = gateway.run()
    assert result.returncode == 2
    assert "policy.regime" in result.stderr and "monthly" in result.stderr
