"""A line faster than a meter (the demo's simulator at thousands of times real time, a burst
after a stall) is read as it comes: live batches wait for the main loop's tick only while
they are few, so a line that does not pause is not starved at a tick's worth a second."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.helpers import PRIMARY, export_rows, start_agent, write_config


def test_a_fast_line_loses_no_quarter_hour(tmp_path: Path) -> None:
    link = tmp_path / "p1-main"
    config = write_config(tmp_path, [(PRIMARY, "primary", str(link), "dsmr5")])
    agent = start_agent(config)
    # 1 telegram a simulated second at 1 800 x: 1 800 telegrams a wall second, in 4 s
    sim = subprocess.Popen(
        [sys.executable, "-m", "firmware_sim", "run", "--dialect", "dsmr5",
         "--start", "2026-06-01T00:00:00+02:00", "--duration", "2h", "--seed", "3",
         "--interval", "1", "--speed", "1800", "--port", f"pty:{link}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _, errors = sim.communicate(timeout=120)
        assert sim.returncode == 0, errors
        deadline = time.monotonic() + 60
        rows: list[dict[str, str]] = []
        while time.monotonic() < deadline:  # the agent settles what it read
            rows = export_rows(config, PRIMARY, "2026-06-01", "2026-06-01")
            if rows and rows[-1]["boundary_utc"] >= "2026-05-31T23:45:00Z":
                break
            time.sleep(0.3)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=30)
    inner = [
        r for r in rows if "2026-05-31T22:15:00Z" <= r["boundary_utc"] <= "2026-05-31T23:45:00Z"
    ]
    # the first boundary may fall before the port was read; every later one is measured
    assert [r["status"] for r in inner] == ["measured"] * 7, rows
