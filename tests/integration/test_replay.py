"""Captures from the simulator through `edge-agent run --until-eof` and `replay`, against truth."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_sim.api import render_to_file
from tests.integration.helpers import (
    PRIMARY,
    edge,
    export_rows,
    meter_ascii,
    row_registers,
    truth_by_boundary,
    write_config,
)

FAULTS = "crc:0.02,drop:0.02,glue:0.01,noise:0.02,truncate:0.01"


def capture(
    path: Path, faults: str = "", **options: object
) -> dict[tuple[str, str], tuple[int, ...]]:
    opts: dict[str, object] = {
        "start": "2026-03-28T00:00:00+01:00",
        "duration": "49h",
        "seed": 11,
        "profile": "household-pv",
        "interval": 10,
    }
    opts.update(options)
    rendered = render_to_file(path, "dsmr5", faults=faults, **opts)
    return truth_by_boundary(rendered.truth_csv())  # type: ignore[return-value]


def test_faulty_capture_measured_boundaries_equal_truth_and_corruption_never_counts(
    tmp_path: Path,
) -> None:
    truth = capture(tmp_path / "main.cap", FAULTS)
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    result = edge("run", "--config", str(config), "--until-eof")
    assert result.returncode == 0, result.stderr
    rows = export_rows(config, PRIMARY, "2026-03-28", "2026-03-29")
    assert len(rows) == 96 + 92 + 1  # both days (the DST day has 92 intervals) + the last midnight
    statuses = {row["status"] for row in rows}
    assert statuses <= {"measured", "interpolated"} and "interpolated" in statuses
    for row in rows:
        expected = truth[(meter_ascii(row["meter"]), row["boundary_utc"])]
        got = row_registers(row)
        if row["status"] == "measured":
            assert got == expected, row  # a corrupt telegram never reaches a register
        else:
            # interpolated from telegrams 10-20 s apart: within what flows in that time
            assert all(abs(g - e) <= 100 for g, e in zip(got, expected, strict=True)), row
    status = edge("status", "--config", str(config), "--json")
    assert '"crc_errors"' in status.stdout


def test_replay_command_feeds_the_same_pipeline(tmp_path: Path) -> None:
    capture(tmp_path / "day1.cap", duration="1d")
    capture(tmp_path / "rest.cap", start="2026-03-29T00:00:00+01:00", duration="25h")
    config = write_config(tmp_path, [(PRIMARY, "primary", "/dev/null-not-used", "dsmr5")])
    result = edge(
        "replay", "--config", str(config), "--ap", PRIMARY, str(tmp_path / "day1.cap"),
        str(tmp_path / "rest.cap"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = export_rows(config, PRIMARY, "2026-03-28", "2026-03-29")
    assert len(rows) == 189 and all(r["status"] == "measured" for r in rows)


def test_kill_9_at_random_moments_gives_the_same_export(tmp_path: Path) -> None:
    (tmp_path / "whole").mkdir()
    (tmp_path / "killed").mkdir()
    for sub in ("whole", "killed"):
        capture(tmp_path / sub / "main.cap", "crc:0.01,drop:0.01", duration="3d")
    whole = write_config(tmp_path / "whole", [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    killed = write_config(tmp_path / "killed", [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    assert edge("run", "--config", str(whole), "--until-eof").returncode == 0
    rng = random.Random(20)
    kills = 0
    while kills < 20:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--config", str(killed), "--until-eof"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.5))  # a random moment to pull the plug, not a wait
        if proc.poll() is not None:
            continue  # finished before the kill: try another moment
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    assert edge("run", "--config", str(killed), "--until-eof").returncode == 0
    days = ("2026-03-28", "2026-03-30")
    for extra in ((), ("--intervals",)):
        assert export_rows(killed, PRIMARY, *days, *extra) == export_rows(
            whole, PRIMARY, *days, *extra
        )


@pytest.mark.parametrize("dialect", ["dsmr4", "fluvius"])
def test_other_dialects_at_their_interval(tmp_path: Path, dialect: str) -> None:
    rendered = render_to_file(
        tmp_path / "m.cap", dialect, start="2026-10-25T00:00:00+02:00", duration="26h",
        seed=3, profile="household", faults="drop:0.05",
    )  # fmt: skip
    truth = truth_by_boundary(rendered.truth_csv())
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:m.cap", dialect)])
    assert edge("run", "--config", str(config), "--until-eof").returncode == 0
    rows = export_rows(config, PRIMARY, "2026-10-25", "2026-10-25")
    assert len(rows) == 101  # the fall-back day has 100 intervals
    for row in rows:
        expected = truth[(meter_ascii(row["meter"]), row["boundary_utc"])]
        if row["status"] == "interpolated":
            low_high = [sorted((g, e)) for g, e in zip(row_registers(row), expected, strict=True)]
            assert all(hi - lo <= 200 for lo, hi in low_high), row
        else:
            assert row["status"] == "measured"
            # measured within the meter's interval: at most one interval of energy late
            assert all(0 <= g - e <= 100 for g, e in zip(row_registers(row), expected, strict=True))


def test_status_table_shows_sources_and_points(tmp_path: Path) -> None:
    capture(tmp_path / "main.cap", "crc:0.05", duration="2h")
    config = write_config(tmp_path, [(PRIMARY, "primary", "file:main.cap", "dsmr5")])
    assert edge("run", "--config", str(config), "--until-eof").returncode == 0
    table = edge("status", "--config", str(config)).stdout.splitlines()
    assert "not running" in table[0]
    (source,) = [line for line in table if line.startswith(PRIMARY) and " file:" in line]
    fields = source.split()
    assert fields[2] == "dsmr5" and fields[3] == "stopped" and int(fields[-2]) > 0  # CRC errors
    (point,) = [line for line in table if line.startswith(PRIMARY) and "primary" in line]
    assert point.split()[1:5] == ["primary", "quarter-hour", "no", "-"]


@pytest.mark.parametrize(
    ("dialect", "fixture"),
    [
        ("hungary", "v5_eon_hu.txt"),
        ("ireland", "iskra_ie.txt"),
        ("easymeter", "esy5q3da1004_v304.txt"),
    ],
)
def test_every_configured_dialect_runs_the_agent(
    tmp_path: Path, dialect: str, fixture: str
) -> None:
    capture = Path(__file__).resolve().parent.parent / "data" / fixture
    config = write_config(tmp_path, [(PRIMARY, "primary", f"file:{capture}", dialect)])
    result = edge("run", "--config", str(config), "--until-eof")
    assert result.returncode == 0, result.stderr
    status = edge("status", "--config", str(config), "--json")
    assert '"telegrams": 1' in status.stdout
