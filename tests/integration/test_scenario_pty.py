"""A whole connection over pseudo-terminals: simulator scenario -> `edge-agent run` -> export.

One primary and two secondary meters (EV charger, PV), two simulated days including the spring
DST day, a few line faults; the agent reads real ptys with pyserial, in meter time.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.helpers import (
    PRIMARY,
    SECONDARY_EV,
    SECONDARY_PV,
    edge,
    export_rows,
    meter_ascii,
    row_registers,
    start_agent,
    truth_by_boundary,
    write_config,
)

SCENARIO = """
start = "2026-03-28T00:00:00+01:00"
duration = "49h"
seed = 4
timezone = "Europe/Amsterdam"

[primary]
meter_id = "MAIN0000000000001"
dialect = "dsmr5"
profile = "household"
port = "pty:{dir}/p1-main"
interval = 10
faults = "crc:0.01,drop:0.01,noise:0.01"

[[secondary]]
meter_id = "EVCH0000000000002"
dialect = "dsmr5"
profile = "ev-charger"
port = "pty:{dir}/p1-ev"
interval = 10

[[secondary]]
meter_id = "PVPV0000000000003"
dialect = "dsmr5"
profile = "pv-only"
port = "pty:{dir}/p1-pv"
interval = 10
faults = "glue:0.01"
"""
LAST_BOUNDARY = "2026-03-29T22:00:00Z"  # local midnight after the DST day


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_three_meters_over_ptys_equal_truth_and_allocate(tmp_path: Path) -> None:
    # The agent starts first and waits for the ports (stable symlinks, like udev's /dev/p1-*),
    # so it reads every telegram from the first one on.
    config = write_config(
        tmp_path,
        [
            (PRIMARY, "primary", str(tmp_path / "p1-main"), "dsmr5"),
            (SECONDARY_EV, "secondary", str(tmp_path / "p1-ev"), "dsmr5"),
            (SECONDARY_PV, "secondary", str(tmp_path / "p1-pv"), "dsmr5"),
        ],
    )
    agent = start_agent(config)
    (tmp_path / "scenario.toml").write_text(SCENARIO.format(dir=tmp_path))
    truth_path = tmp_path / "truth.csv"
    sim = subprocess.Popen(
        [sys.executable, "-m", "firmware_sim", "scenario", str(tmp_path / "scenario.toml"),
         "--speed", "max", "--truth", str(truth_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        sim.wait(timeout=300)

        def settled() -> bool:
            result = edge("status", "--config", str(config), "--json")
            assert result.returncode == 0, result.stderr
            points = json.loads(result.stdout)["points"].values()
            return all((p.get("last_boundary_utc") or "") >= LAST_BOUNDARY for p in points)

        wait_for(settled, 120, "every point's last boundary")
    finally:
        if sim.poll() is None:
            sim.kill()
        sim.communicate()
        agent.send_signal(signal.SIGTERM)
        _, errors = agent.communicate(timeout=30)
    assert agent.returncode == 0, errors
    truth = truth_by_boundary(truth_path.read_text())
    by_point = {}
    for ean in (PRIMARY, SECONDARY_EV, SECONDARY_PV):
        rows = export_rows(config, ean, "2026-03-28", "2026-03-29")
        assert len(rows) == 96 + 92 + 1
        for index, row in enumerate(rows):
            if row["status"] == "missing":  # only where the very first telegram was lost
                assert index == 0, row
                continue
            expected = truth[(meter_ascii(row["meter"]), row["boundary_utc"])]
            if row["status"] == "measured":
                assert row_registers(row) == expected, row
            else:
                assert row["status"] == "interpolated", row
        by_point[ean] = export_rows(config, ean, "2026-03-28", "2026-03-29", "--intervals")
    measured = sum(r["status"] == "measured" for r in by_point[PRIMARY])
    assert measured > 150  # the faults cost a few boundaries, not the day
    for main, ev, pv in zip(
        *(by_point[e] for e in (PRIMARY, SECONDARY_EV, SECONDARY_PV)), strict=True
    ):
        assert main["start_utc"] == ev["start_utc"] == pv["start_utc"]
        if "missing" in (main["status"], ev["status"], pv["status"]):
            assert main["offtake_wh"] == ""
            continue
        net = lambda r: int(r["import_wh"]) - int(r["export_wh"])  # noqa: E731
        allocated = net(main) - net(ev) - net(pv)
        assert int(main["offtake_wh"]) == max(0, allocated)
        assert int(main["injection_wh"]) == max(0, -allocated)
        assert int(pv["injection_wh"]) == max(0, -net(pv))
    status = json.loads(edge("status", "--config", str(config), "--json").stdout)
    primary_source = next(s for s in status["sources"] if s["name"] == PRIMARY)
    assert primary_source["crc_errors"] > 0  # the line faults were seen and dropped
