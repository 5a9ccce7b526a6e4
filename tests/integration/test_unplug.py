"""Cable unplugged and replugged: the agent reconnects within 5 s of the port's return and the
boundary it could not see is explicitly interpolated, never silently measured."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.helpers import PRIMARY, edge, export_rows, start_agent, write_config

SPEED = 120  # simulated seconds per wall second: 10 simulated minutes = 5 s


def test_unplug_reconnects_within_5_s_and_marks_the_gap(tmp_path: Path) -> None:
    link = tmp_path / "p1-main"
    config = write_config(tmp_path, [(PRIMARY, "primary", str(link), "dsmr5")])
    agent = start_agent(config)
    sim = subprocess.Popen(
        [sys.executable, "-m", "firmware_sim", "run", "--dialect", "dsmr5",
         "--start", "2026-06-01T00:20:00+02:00", "--duration", "45m", "--seed", "2",
         "--profile", "household", "--interval", "10", "--speed", str(SPEED),
         "--faults", "unplug:10m@00:40", "--port", f"pty:{link}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        out, errors = sim.communicate(timeout=120)
        assert sim.returncode == 0, errors
        assert out.count("port: ") == 2  # the first port and the one after the replug
        deadline = time.monotonic() + 30
        rows: list[dict[str, str]] = []
        while time.monotonic() < deadline:
            rows = export_rows(config, PRIMARY, "2026-06-01", "2026-06-01")
            if rows and rows[-1]["boundary_utc"] >= "2026-05-31T23:00:00Z":
                break
            time.sleep(0.3)
        status = json.loads(edge("status", "--config", str(config), "--json").stdout)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=30)
    by_time = {row["boundary_utc"]: row["status"] for row in rows}
    assert by_time["2026-05-31T22:30:00Z"] == "measured"  # 00:30, before the unplug
    # 00:45 fell inside the 10 minutes without a line: interpolated from both sides, marked
    assert by_time["2026-05-31T22:45:00Z"] == "interpolated"
    # the port came back at 00:50: the 01:00 telegram was read, so the agent was back within
    # 10 simulated minutes = 5 s
    assert by_time["2026-05-31T23:00:00Z"] == "measured"
    (source,) = status["sources"]
    assert source["reconnects"] == 1
