"""A connection with secondary meters is physically consistent; the CLI serves every meter."""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_sim.scenario import parse_scenario
from firmware_sim.simulate import TruthRow, _net_day, simulate

TOML = """
start = "2026-06-21T10:00:00+02:00"
duration = "4h"
seed = 20

[primary]
meter_id = "E0000000000000100"
dialect = "dsmr5"
profile = "household"
port = "{p0}"
gas = true

[[secondary]]
meter_id = "E0000000000000101"
dialect = "dsmr5"
profile = "pv-only"
port = "{p1}"

[[secondary]]
meter_id = "E0000000000000102"
dialect = "dsmr4"
profile = "ev-charger"
port = "{p2}"
"""


def _truth(spec_rows: list[object]) -> dict[int, TruthRow]:
    return {r.boundary: r for r in spec_rows if isinstance(r, TruthRow)}


def _rows(spec: object, start: int, end: int) -> dict[int, TruthRow]:
    out: list[object] = []
    for part in simulate(spec, start, end):  # type: ignore[arg-type]
        if isinstance(part, list):
            out.extend(part)
    return _truth(out)


def _net(r: TruthRow) -> int:
    return r.import_t1_wh + r.import_t2_wh - r.export_t1_wh - r.export_t2_wh


def test_secondary_flows_pass_through_the_primary_exactly() -> None:
    sc = parse_scenario(TOML.format(p0="pty", p1="pty", p2="pty"))
    prim, secs = sc.primary.plan.spec, [m.plan.spec for m in sc.secondaries]
    assert prim.behind == tuple((s.profile, s.seed) for s in secs)
    house = dataclasses.replace(prim, behind=())
    day = sc.primary.plan.start // 86_400
    # Per second and per phase, in integer W: primary = house + every secondary's net.
    total = _net_day(house, day)[0] + sum(_net_day(s, day)[0] for s in secs)
    assert np.array_equal(_net_day(prim, day)[0], total)
    # At the registers: the primary's net volume equals house + secondaries within the
    # rounding of the Wh registers (each meter floors four registers: < 4 Wh per meter).
    start, end = sc.primary.plan.start, sc.primary.plan.end
    meters = [_rows(s, start, end) for s in (prim, house, *secs)]
    times = sorted(meters[0])
    exported = False
    for a, b in itertools.pairwise(times):
        vols = [_net(m[b]) - _net(m[a]) for m in meters]
        assert abs(vols[0] - sum(vols[1:])) <= 4 * len(vols)
        exported |= vols[0] < 0 < vols[1] and vols[2] < 0
    assert exported  # midsummer noon: the PV secondary pushes the primary into export


def test_scenario_limits_and_errors_name_the_key() -> None:
    six = TOML.format(p0="pty", p1="pty", p2="pty") + '[[secondary]]\nprofile = "pv-only"\n' * 4
    with pytest.raises(ValueError, match=r"\[\[secondary\]\]: at most 5"):
        parse_scenario(six)
    with pytest.raises(ValueError, match="unknown key"):
        parse_scenario('[primary]\ndialect = "dsmr5"\ncolour = "red"\n')
    with pytest.raises(ValueError, match="duplicate meter_id"):
        parse_scenario('[primary]\nmeter_id = "E1"\n[[secondary]]\nmeter_id = "E1"\n')


def test_cli_scenario_files_and_truth(tmp_path: Path) -> None:
    ports = {f"p{i}": f"file:{tmp_path / f'm{i}.p1'}" for i in range(3)}
    toml = tmp_path / "s.toml"
    toml.write_text(TOML.format(**ports).replace('"4h"', '"30m"'))
    truth = tmp_path / "truth.csv"
    cmd = [sys.executable, "-m", "firmware_sim", "scenario", str(toml), "--truth", str(truth)]
    subprocess.run(cmd, check=True, timeout=60)
    lines = truth.read_text().splitlines()
    assert sorted({line.split(",")[0] for line in lines[1:]}) == [
        "E0000000000000100", "E0000000000000101", "E0000000000000102"
    ]  # fmt: skip
    assert len(lines) == 1 + 3 * 3  # 10:00, 10:15 and the end instant 10:30
    assert (tmp_path / "m0.p1").read_bytes().count(b"!") == 1800
    assert (tmp_path / "m2.p1").read_bytes().count(b"!") == 180


def test_cli_scenario_announces_one_pty_per_meter(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text(TOML.format(p0="pty", p1="pty", p2="pty"))
    cmd = [sys.executable, "-m", "firmware_sim", "scenario", str(toml), "--speed", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        got = [proc.stdout.readline().decode().strip() for _ in range(3)]
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
    for line, meter in zip(got, ("100", "101", "102"), strict=True):
        assert line.startswith(f"port E0000000000000{meter}: /dev/pts/")
