"""README's first command, as a newcomer runs it: `edge-agent demo --days 2`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.mosquitto import SKIP_REASON, mosquitto_binary


@pytest.mark.skipif(mosquitto_binary() is None, reason=SKIP_REASON)
def test_demo_two_days_verifies_blocks_for_every_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge", "demo", "--days", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if re.match(r"^(house|EV|PV) ", line)]
    assert len(rows) == 6  # three points, two days
    for label in ("house", "EV", "PV"):
        assert any(r.startswith(label) and "verified" in r for r in rows), rows
    assert sum("verified" in r for r in rows) == 5  # the PV owner opted out after day one
    assert "opted out" in result.stdout
    assert "already-released-today" in result.stdout
    assert "grid operator's allocation" in result.stdout
    cells = [line.split() for line in result.stdout.splitlines() if " GA-DEMO " in line]
    assert len(cells) == 6  # three cells (house, EV, PV contracts), two days
    pv_second_day = next(c for c in cells if c[0] == "2026-03-29" and c[3] == "SUP-ZON")
    assert int(pv_second_day[-1]) == 92  # opted out: every ISP of the DST day substituted
    assert "files kept" not in result.stdout + result.stderr  # only with --keep
    assert result.stdout.rstrip().endswith("demo: OK")


def test_demo_with_the_embedded_broker_speaks_mqtt_311() -> None:
    pytest.importorskip("amqtt", reason="the broker extra (amqtt) is not installed")
    result = subprocess.run(
        [sys.executable, "-m", "edge", "demo", "--days", "1", "--broker", "embedded"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "amqtt (embedded)" in result.stdout and "MQTT 3.1.1" in result.stdout
    assert result.stdout.count("verified") == 3
