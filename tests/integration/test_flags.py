"""Flags from a simulated day: meter replacement and capacity excess, and never a negative or
cross-meter volume."""

from __future__ import annotations

from pathlib import Path

from firmware_sim.api import render_to_file
from tests.integration.helpers import PRIMARY, edge, export_rows, write_config


def test_replacement_and_capacity_excess_are_flagged(tmp_path: Path) -> None:
    render_to_file(
        tmp_path / "ev.cap", "dsmr5", start="2026-06-01T00:00:00+02:00", duration="25h",
        seed=2, profile="ev-charger", interval=10, faults="replace@12:00",
    )  # fmt: skip
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:ev.cap", "dsmr5")])
    # an EV charger behind a 1 x 16 A connection (3.7 kVA: 925 Wh a quarter; flagged from 1110)
    text = (
        config.read_text()
        .replace("phases = 3", "phases = 1")
        .replace("voltage = 400", "voltage = 230")
    )
    config.write_text(text.replace("fuse_a = 25", "fuse_a = 16"))
    assert edge("run", "--config", str(config), "--until-eof").returncode == 0
    rows = export_rows(config, PRIMARY, "2026-06-01", "2026-06-01", "--intervals")
    assert len(rows) == 96
    changed = [r for r in rows if "meter_changed" in r["flags"]]
    assert [r["start_utc"] for r in changed] == ["2026-06-01T09:45:00Z"]  # 11:45-12:00 local
    assert changed[0]["status"] == "missing" and changed[0]["import_wh"] == ""
    meters = {r["meter"] for r in rows}
    assert len(meters) == 2  # the new equipment id after the replacement
    heavy = [r for r in rows if r["import_wh"] and int(r["import_wh"]) >= 1110]
    assert heavy and all("capacity_exceeded" in r["flags"] for r in heavy)
    light = [r for r in rows if r["import_wh"] and int(r["import_wh"]) < 1110]
    assert not any("capacity_exceeded" in r["flags"] for r in light)
    volumes = [int(r[k]) for r in rows for k in ("import_wh", "export_wh") if r[k] != ""]
    assert min(volumes) >= 0  # no negative volume anywhere, also across the replacement
