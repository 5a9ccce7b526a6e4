"""The one status model: what `edge-agent status`, status.json and the retained grid status
show of a running agent, and when they are written."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import status_topic
from edge.agent import Agent
from edge.config import load_config
from edge.status import dialect_of, grid_point, readable_meter_id
from firmware_sim.api import render_to_file
from tests.integration.helpers import PRIMARY, SECONDARY_EV, edge, write_config
from tests.release.helpers import GW, PREFIX, Gateway, make_gateway
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()
PATIENCE_S = 120.0


def eventually(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + PATIENCE_S
    while not (result := condition()):
        assert time.monotonic() < deadline, f"not reached in {PATIENCE_S} s: {what}"
        time.sleep(0.2)
    return result


def status(config: Path) -> tuple[int, dict[str, Any]]:
    result = edge("status", "--config", str(config), "--json")
    return result.returncode, json.loads(result.stdout)


@pytest.fixture
def running(tmp_path: Path, broker: Broker) -> Iterator[tuple[Gateway, subprocess.Popen[str]]]:
    gateway = make_gateway(tmp_path, broker.url)
    gateway.feed("2026-03-27T00:00:00+01:00", "2h")
    (tmp_path / "agent.toml").write_text(
        (tmp_path / "agent.toml").read_text().replace('dialect = "dsmr5"', 'dialect = "auto"', 1)
    )
    agent = subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(gateway.config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield gateway, agent
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=60)


def test_status_shows_links_dialect_meter_and_exits_by_state(
    running: tuple[Gateway, subprocess.Popen[str]],
) -> None:
    gateway, _agent = running

    def connected_and_read() -> dict[str, Any] | None:
        code, s = status(gateway.config)
        grid = s.get("links", {}).get("grid", {})
        sources = s.get("sources", [])
        done = sources and all(src["state"] == "stopped" for src in sources)
        # a source stops before the agent's next tick handles its last batches: until then
        # nothing is detected yet (the status is rewritten when the detected dialect changes)
        handled = all(not src["dialect"].startswith("auto") for src in sources)
        ok = code == 0 and grid.get("state") == "connected" and done and handled
        return s if ok else None

    s = eventually(connected_and_read, "running, grid connected, captures read and handled")
    assert s["running"] is True and s["alarms"] == []
    assert s["links"]["grid"]["broker"] == gateway.broker_url
    assert s["links"]["grid"]["last_error"] is None
    primary = next(src for src in s["sources"] if src["name"] == PRIMARY)
    assert primary["dialect"] == "dsmr5", "what was detected, not `auto`"
    assert primary["port"] == f"file:{gateway.folder / (PRIMARY + '.cap')}"
    point = s["points"][PRIMARY]
    assert point["meter"] == "METER01" and point["regime"] == "quarter-hour"
    assert "release" not in s and "last_released_day" not in point, "no duplicated keys"
    assert "last_release_day" in point
    # one name per fact, the retained grid status's names (README, SPEC §7)
    assert "last_reading_utc" not in point and point["last_telegram_utc"] is not None
    assert "opted_out" not in point and point["consent"] == "opted-in"
    text = edge("status", "--config", str(gateway.config))
    assert text.returncode == 0 and "grid broker" in text.stdout and "connected" in text.stdout


def test_status_exits_3_when_the_agent_is_not_running(
    running: tuple[Gateway, subprocess.Popen[str]],
) -> None:
    gateway, agent = running
    eventually(lambda: status(gateway.config)[0] == 0, "running")
    agent.send_signal(signal.SIGTERM)
    agent.communicate(timeout=60)
    code, s = status(gateway.config)
    assert code == 3 and s["running"] is False


def test_retained_status_on_change_and_of_an_opted_out_point_only_its_opt_out(
    running: tuple[Gateway, subprocess.Popen[str]], broker: Broker
) -> None:
    gateway, _agent = running
    topic = status_topic(PREFIX, GW)
    eventually(lambda: status(gateway.config)[0] == 0, "running")
    assert (
        edge("consent", "--config", str(gateway.config), "--ap", SECONDARY_EV, "opt-out").returncode
        == 0
    )

    def opted_out(body: dict[str, Any]) -> bool:
        return bool(body.get("points", {}).get(SECONDARY_EV, {}).get("opted_out"))

    with BlockingClient(broker.settings()) as watcher:
        watcher.subscribe(topic)
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + PATIENCE_S
        while not (seen and opted_out(seen[-1])):
            message = watcher.receive(timeout=max(0.1, deadline - time.monotonic()))
            assert message is not None, "the opt-out reached the retained status"
            seen.append(json.loads(message.payload))
        assert seen[-1]["points"][SECONDARY_EV] == {"consent": "opted-out", "opted_out": True}
        assert "last_telegram_utc" in seen[-1]["points"][PRIMARY]
        assert seen[-1]["points"][PRIMARY]["opted_out"] is False, "the grid status keeps it"
        # nothing changes now: within 20 s (four of the old 5 s periods) no status is re-sent
        quiet_until = time.monotonic() + 20
        again = []
        while (left := quiet_until - time.monotonic()) > 0:
            message = watcher.receive(timeout=left)
            if message is not None:
                again.append(json.loads(message.payload))
        assert again == [], "the retained status is sent on change (and as a slow heartbeat)"


def test_an_unwritable_status_file_is_an_alarm_not_a_crash(tmp_path: Path) -> None:
    render_to_file(tmp_path / "main.cap", "dsmr5", start="2026-03-28T00:00:00+01:00",
                   duration="1h", seed=3, interval=10)  # fmt: skip
    config = load_config(write_config(tmp_path, [(PRIMARY, "primary", "file:main.cap", "dsmr5")]))
    (config.gateway.data_dir / "status.json").mkdir(parents=True)  # not a file: cannot replace
    agent = Agent(config, until_eof=True)
    assert agent.run() == 0
    (alarm,) = agent.health.alarms()
    assert alarm.key == "status-file" and "status.json" in alarm.text


def test_meter_id_and_dialect_are_readable() -> None:
    assert readable_meter_id("4530303434303037") == "E0044007"
    assert readable_meter_id("not hex") == "not hex"
    assert readable_meter_id("00ff") == "00ff"  # not printable: kept as the meter sent it
    from edge.p1 import P1Decoder

    data = (Path(__file__).parent.parent / "data" / "v5.txt").read_bytes()
    (telegram,) = [e for e in P1Decoder().feed(data) if hasattr(e, "registers")]
    assert dialect_of(telegram) == "dsmr5"  # type: ignore[arg-type]


def test_the_grid_status_keeps_its_fields_from_the_one_name_per_fact_model() -> None:
    point: dict[str, Any] = {
        "role": "primary", "regime": "monthly", "consent": "opted-in", "meter": "M",
        "last_release_day": None, "outbox_depth": 0, "alarms": [],
        "last_telegram_utc": "2026-03-27T01:00:00Z",
    }  # fmt: skip
    assert grid_point(point) == {
        "role": "primary", "regime": "monthly", "consent": "opted-in", "opted_out": False,
        "last_release_day": None, "outbox_depth": 0, "alarms": [],
        "last_telegram_utc": "2026-03-27T01:00:00Z",
    }  # fmt: skip
    assert grid_point({**point, "consent": "opted-out"}) == {
        "consent": "opted-out", "opted_out": True,
    }  # fmt: skip


def test_status_reads_the_runtime_copy_rewritten_every_few_seconds(
    tmp_path: Path, broker: Broker
) -> None:
    """Under systemd (RuntimeDirectory=p1edge) status.json is also kept in RAM and rewritten
    every few seconds, so `status` shows the truth; the data dir's copy (flash) stays on
    change and once a minute. `status` says how old what it shows is."""
    gateway = make_gateway(tmp_path / "gw", broker.url)
    gateway.feed("2026-03-27T00:00:00+01:00", "2h")
    runtime = tmp_path / "run"
    runtime.mkdir()
    agent = subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(gateway.config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "RUNTIME_DIRECTORY": str(runtime)},
    )  # fmt: skip
    try:

        def settled() -> bool:
            code, s = status(gateway.config)
            read = s.get("sources") and all(src["state"] == "stopped" for src in s["sources"])
            return code == 0 and s["links"]["grid"]["state"] == "connected" and bool(read)

        eventually(settled, "running, grid connected, captures read")
        # nothing changes now: the RAM copy moves on every few seconds, the flash copy only at
        # its heartbeat (so at most once a minute, however slow this machine is) and for a last
        # change that may land just after what `status` showed settled
        started = time.monotonic()
        ram: set[str] = set()
        flash: set[str] = set()

        def four_ram_rewrites() -> bool:
            for copy, seen in ((runtime, ram), (gateway.folder / "data", flash)):
                written = json.loads(_text(copy / "status.json") or "{}").get("written_utc")
                seen.add(written or "")
            return len(ram - {""}) >= 4

        eventually(four_ram_rewrites, "the RAM copy rewritten while nothing changes")
        assert len(flash) <= 2 + (time.monotonic() - started) // 60, (flash, ram)
        data_copy = json.loads((gateway.folder / "data" / "status.json").read_text())
        shown = eventually(
            lambda: (
                (s := status(gateway.config)[1])["written_utc"] > data_copy["written_utc"] and s
            ),
            "status reads the RAM copy",
        )
        assert shown["gateway"] == GW
        text = edge("status", "--config", str(gateway.config)).stdout
        assert re.search(r"as of \d\d:\d\d:\d\d, \d+ s ago", text), text
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=60)


def _text(path: Path) -> str | None:
    try:
        return path.read_text() or None
    except OSError:
        return None
