"""Meter time with a restart in the middle: a day is released only when every point's day has
settled (issue 11, item 11).

After the restart the EV meter's capture is a FIFO the test fills only once the main meter's
capture has been read past two push windows: before the fix, the release took the slowest
meter *that had already delivered since the restart* as "now" and sent the EV point's days with
half their intervals missing — and a released day is never sent again.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cbor2

from firmware_sim.api import render_to_file
from tests.integration.helpers import PRIMARY, SECONDARY_EV, edge
from tests.release.helpers import make_gateway
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()


def render(path: Path, ean: str, start: str, duration: str) -> None:
    profile, seed = ("household", 1) if ean == PRIMARY else ("ev-charger", 2)
    render_to_file(path, "dsmr5", start=start, duration=duration, seed=seed, profile=profile,
                   interval=10, meter_id=f"METER{ean[-2:]}")  # fmt: skip


def split(folder: Path, ean: str) -> tuple[bytes, bytes]:
    """The meter's capture of 27 March 00:00 to 29 March 12:00, cut before 27 March 12:00."""
    whole = folder / f"{ean}.whole"
    render(whole, ean, "2026-03-27T00:00:00+01:00", "60h")
    data = whole.read_bytes()
    cut = data.rindex(b"/", 0, data.index(b"0-0:1.0.0(260327120000W)"))
    return data[:cut], data[cut:]


def source_state(config: Path, ap: str) -> str | None:
    result = edge("status", "--config", str(config), "--json")
    if not result.stdout.strip():
        return None
    for source in json.loads(result.stdout).get("sources") or []:
        if source.get("ap") == ap or ap in str(source):
            return str(source.get("state"))
    return None


def test_a_restarted_meter_time_gateway_releases_only_settled_days(
    tmp_path: Path, broker: Broker
) -> None:
    gateway = make_gateway(tmp_path, broker.url)
    # one capture per meter, cut at the restart (two renders would not continue the registers)
    halves = {ean: split(tmp_path, ean) for ean in (PRIMARY, SECONDARY_EV)}
    for ean, (before, _) in halves.items():
        (tmp_path / f"{ean}.cap").write_bytes(before)
    assert gateway.run().returncode == 0
    # after the restart: the main meter runs on to the 29th, 12:00 (two push windows) ...
    (tmp_path / f"{PRIMARY}.cap").write_bytes(halves[PRIMARY][1])
    staged = tmp_path / "ev.staged"
    staged.write_bytes(halves[SECONDARY_EV][1])
    fifo = tmp_path / f"{SECONDARY_EV}.cap"
    fifo.unlink()
    os.mkfifo(fifo)
    agent = subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(gateway.config), "--until-eof"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while source_state(gateway.config, PRIMARY) != "stopped":
            assert time.monotonic() < deadline and agent.poll() is None, "main meter not read"
            time.sleep(0.3)
        time.sleep(2)  # several ticks in the main meter's time: a wrong release would happen now
        # ... and only then does the EV meter deliver its part
        with open(fifo, "wb") as sink, open(staged, "rb") as source:
            shutil.copyfileobj(source, sink)
        _, errors = agent.communicate(timeout=300)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.communicate()
    assert agent.returncode == 0, errors
    conn = sqlite3.connect(next(tmp_path.rglob("*.sqlite")))
    blocks = conn.execute("SELECT ap, period, cose FROM block ORDER BY ap, seq").fetchall()
    conn.close()
    released = {(ap, period) for ap, period, _ in blocks}
    assert {(PRIMARY, "2026-03-27"), (SECONDARY_EV, "2026-03-27")} <= released
    assert {(PRIMARY, "2026-03-28"), (SECONDARY_EV, "2026-03-28")} <= released
    for ap, period, cose in blocks:
        body = cbor2.loads(cbor2.loads(cose).value[2])
        missing = body["status"].count("missing")
        assert missing == 0, (ap, period, missing)
