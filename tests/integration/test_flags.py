"""Flags from a simulated day: meter replacement and capacity excess, and never a negative or
cross-meter volume."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from edge.blocks.payload import DayReadings
from edge.release.build import day_readings
from firmware_sim.api import render, render_to_file
from firmware_sim.crc import crc16_arc
from tests.integration.helpers import PRIMARY, SECONDARY_EV, edge, export_rows, write_config


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


# -- R7: what the secondaries drew must have been able to reach them (issue 11 items 1, 2) -----

R7 = "secondary_exceeds_primary"
CONNECTION = """
start = "2026-06-01T00:00:00+02:00"
duration = "24h1m"
seed = 1  # the EV secondary gets seed 2: it charges that evening
timezone = "Europe/Amsterdam"

[primary]
dialect = "dsmr5"
profile = "{house}"
port = "file:{dir}/main.cap"
interval = 10
{secondaries}
"""
EV = """
[[secondary]]
dialect = "dsmr5"
profile = "ev-charger"
port = "file:{dir}/ev.cap"
interval = 10
"""


def run_connection(tmp_path: Path, *, ev_behind: bool | None) -> Path:
    """`ev_behind`: an EV meter behind the main meter of a house with its own (unmetered) PV
    (True), that house alone (None), or an EV meter on another connection (False)."""
    secondaries = EV.format(dir=tmp_path) if ev_behind else ""
    scenario = tmp_path / "scenario.toml"
    # a house without generation for the impossible case: with its own PV, nothing can be
    # ruled out (what it produces is unmetered and may have fed any charger)
    house = "household" if ev_behind is False else "household-pv"
    scenario.write_text(CONNECTION.format(dir=tmp_path, secondaries=secondaries, house=house))
    sim = subprocess.run(
        [sys.executable, "-m", "firmware_sim", "scenario", str(scenario)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    points = [(PRIMARY, "primary", "file:main.cap", "dsmr5")]
    if ev_behind is False:  # the same EV charger, but its energy never passed this main meter
        render_to_file(tmp_path / "ev.cap", "dsmr5", start="2026-06-01T00:00:00+02:00",
                       duration="24h1m", seed=5, profile="ev-charger", interval=10)  # fmt: skip
    if ev_behind is not None:
        points.append((SECONDARY_EV, "secondary", "file:ev.cap", "dsmr5"))
    config = write_config(tmp_path, points)
    result = edge("run", "--config", str(config), "--until-eof")
    assert result.returncode == 0, result.stderr
    return config


def block_flags(tmp_path: Path, ap: str, role: str) -> list[tuple[str, ...]]:
    return list(day_readings_of(tmp_path, ap, role).flags)


@pytest.mark.parametrize("ev_behind", [None, True])
def test_r7_never_fires_for_a_producing_house_with_or_without_secondaries(
    tmp_path: Path, ev_behind: bool | None
) -> None:
    config = run_connection(tmp_path, ev_behind=ev_behind)
    rows = export_rows(config, PRIMARY, "2026-06-01", "2026-06-01", "--intervals")
    assert len(rows) == 96
    assert sum(int(r["export_wh"] or 0) > 0 for r in rows) > 10  # it exports many quarters
    assert not [r["start_utc"] for r in rows if R7 in r["flags"]]
    if ev_behind:  # the charger did charge, partly from the house's own PV
        ev = export_rows(config, SECONDARY_EV, "2026-06-01", "2026-06-01", "--intervals")
        assert sum(int(r["import_wh"] or 0) > 1000 for r in ev) > 3
        assert not [r["start_utc"] for r in ev if R7 in r["flags"]]
    assert not any(R7 in f for f in block_flags(tmp_path, PRIMARY, "primary"))


def test_r7_flags_a_secondary_that_is_not_behind_the_main_meter_in_both_blocks(
    tmp_path: Path,
) -> None:
    config = run_connection(tmp_path, ev_behind=False)
    ev_rows = export_rows(config, SECONDARY_EV, "2026-06-01", "2026-06-01", "--intervals")
    main_rows = export_rows(config, PRIMARY, "2026-06-01", "2026-06-01", "--intervals")
    main = {r["start_utc"]: r for r in main_rows}
    # charging harder than the main meter's import plus anything produced behind it
    impossible = {
        r["start_utc"]
        for r in ev_rows
        if int(r["import_wh"]) > int(main[r["start_utc"]]["import_wh"]) * 101 // 100 + 3
        and int(main[r["start_utc"]]["export_wh"]) == 0
    }
    assert impossible  # the simulated EV charges in the evening, more than the house takes
    assert {r["start_utc"] for r in ev_rows if R7 in r["flags"]} == impossible
    assert {r["start_utc"] for r in main_rows if R7 in r["flags"]} == impossible
    flagged_ev = block_flags(tmp_path, SECONDARY_EV, "secondary")
    flagged_main = block_flags(tmp_path, PRIMARY, "primary")
    assert sum(R7 in f for f in flagged_ev) == sum(R7 in f for f in flagged_main) == len(impossible)


def test_a_register_decrease_is_no_injection_in_the_export_or_the_block(tmp_path: Path) -> None:
    # issue 11 item 6: the import register steps back 250 Wh mid-quarter (and stays back)
    rendered = render("dsmr5", start="2026-06-01T00:00:00+02:00", duration="24h1m", seed=2,
                      profile="household", interval=10)  # fmt: skip
    at = next(i for i, t in enumerate(rendered.times) if t >= 1780304400 + 450)  # 09:07:30Z
    parts = rendered.telegrams[:at] + [lowered(t, 250) for t in rendered.telegrams[at:]]
    (tmp_path / "main.cap").write_bytes(b"".join(parts))
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    assert edge("run", "--config", str(config), "--until-eof").returncode == 0
    rows = export_rows(config, PRIMARY, "2026-06-01", "2026-06-01", "--intervals")
    decreased = [r for r in rows if "register_decreased" in r["flags"]]
    assert [r["start_utc"] for r in decreased] == ["2026-06-01T09:00:00Z"]
    row = decreased[0]
    assert row["status"] == "missing"
    assert (row["import_wh"], row["offtake_wh"], row["injection_wh"]) == ("", "", "")
    assert all(r["injection_wh"] in ("", "0") for r in rows)  # a house without PV never injects
    status = day_readings_of(tmp_path, PRIMARY, "primary").status
    assert status[rows.index(row)] == "missing"


def lowered(telegram: bytes, wh: int) -> bytes:
    """The telegram with its import tariff 1 register `wh` lower, and a valid CRC."""
    body = telegram[: telegram.index(b"!") + 1]
    head, rest = body.split(b"1-0:1.8.1(", 1)
    value, tail = rest.split(b"*kWh)", 1)
    milli = int(value.replace(b".", b"")) - wh
    body = head + b"1-0:1.8.1(%06d.%03d*kWh)" % divmod(milli, 1000) + tail
    return body + b"%04X\r\n" % crc16_arc(body)


def day_readings_of(tmp_path: Path, ap: str, role: str) -> DayReadings:
    conn = sqlite3.connect(tmp_path / "data" / "p1edge.sqlite")
    try:
        points = [(PRIMARY, "primary"), (SECONDARY_EV, "secondary")]
        return day_readings(conn, gw="GW-TEST", ap=ap, role=role, day=date(2026, 6, 1),
                            tz="Europe/Amsterdam", points=points)  # fmt: skip
    finally:
        conn.close()
