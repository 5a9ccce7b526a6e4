"""The allocation run against an independent computation, conservation, privacy, reproducibility.

The fleet's blocks go into a real SQLite store (the store's own ingest), `edge-agent grid
allocate` runs as a process, and its allocation.csv is compared with a computation here that
reads the .cose files with cbor2 directly (no allocation code), for every ISP whose values are
all measured (substitution is checked by its own rules below).
"""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.blocks.payload import REGISTERS
from edge.grid.allocation.model import Cell
from edge.grid.allocation.privacy import merge_plan
from edge.grid.fleet import FleetSpec, generate
from edge.grid.fleet_io import read_blocks, write_fleet
from edge.grid.registry import MERGED, parse_registry
from edge.grid.store import Candidate, open_store

SPEC = FleetSpec(gateways=60, days=3, seed=21, secondaries=0.6, opt_out=0.08, gap_rate=0.02,
                 fault_rate=0.2, decrease_rate=0.1)  # fmt: skip
DAY = SPEC.first_day + timedelta(days=1)
USABLE = {"measured", "interpolated"}
BAD_FLAGS = {"capacity_exceeded", "register_decreased", "meter_changed", "clock_skew"}


def _payload(cose: bytes) -> dict:  # type: ignore[type-arg]
    return cbor2.loads(cbor2.loads(cose).value[2])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fleet")
    write_fleet(SPEC, out, generate(SPEC))
    store = open_store(f"sqlite:///{out / 'grid.sqlite'}")
    items = []
    for gw, ap, seq, cose in read_blocks(out):
        p = _payload(cose)
        topic = f"p1edge/v1/{gw}/ap/{ap}/day/{p['day']}"
        sha = hashlib.sha256(cose).digest()
        items.append(Candidate(topic, gw, ap, seq, p["day"], "day", "kid", p["prev"], sha, cose))
    store.ingest(items, now=0)
    store.import_registry(parse_registry(out / "registry.csv"))
    store.close()
    return out


def _allocate(fleet: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "edge", "grid", "allocate", "--store",
         f"sqlite:///{fleet / 'grid.sqlite'}", "--day", DAY.isoformat(), "--out", str(out),
         *extra],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _independent(
    fleet: Path,
) -> tuple[dict[tuple[str, str, str, str, str], int], set[tuple[str, str, str, str]]]:
    """Per (isp, area, brp, supplier, direction) Wh where all the cell's points are usable;
    and the (isp, cell)s where some are not."""
    registry = [r for r in parse_registry(fleet / "registry.csv")
                if r.valid_from <= DAY and (r.valid_to is None or r.valid_to > DAY)]  # fmt: skip
    by_ap = {r.ap: r for r in registry}
    blocks = {}
    for _, ap, _, cose in read_blocks(fleet):
        p = _payload(cose)
        if p["day"] == DAY.isoformat():
            blocks[ap] = p
    n = 96
    nets: dict[str, list[int | None]] = {}
    for ap in by_ap:
        p = blocks.get(ap)
        if p is None:
            nets[ap] = [None] * n
            continue
        r = p["readings"]
        values: list[int | None] = []
        for k in range(n):
            vols = [None if r[x][k] is None or r[x][k + 1] is None else r[x][k + 1] - r[x][k]
                    for x in REGISTERS]  # fmt: skip
            bad = (p["status"][k] not in USABLE or BAD_FLAGS & set(p["flags"][k])
                   or any(v is None or v < 0 for v in vols))  # fmt: skip
            values.append(None if bad else vols[0] + vols[1] - vols[2] - vols[3])  # type: ignore[operator]
        nets[ap] = values
    primary = {r.connection: r.ap for r in registry if r.role == "primary"}
    point = {ap: list(v) for ap, v in nets.items()}
    for r in registry:
        if r.role == "secondary" and r.connection in primary:
            main = point[primary[r.connection]]
            for k in range(n):
                s = nets[r.ap][k]
                main[k] = None if main[k] is None or s is None else main[k] - s
    start = blocks[next(iter(blocks))]["start"]
    from datetime import datetime

    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    sums: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
    undefined: set[tuple[str, str, str, str]] = set()
    for ap, values in point.items():
        r = by_ap[ap]
        for k in range(n):
            isp = (t0 + timedelta(minutes=15 * k)).strftime("%Y-%m-%dT%H:%M:%SZ")
            v = values[k]
            if v is None:
                undefined.add((isp, r.grid_area, r.brp, r.supplier))
                continue
            sums[(isp, r.grid_area, r.brp, r.supplier, "offtake")] += max(v, 0)
            sums[(isp, r.grid_area, r.brp, r.supplier, "injection")] += max(-v, 0)
    return {key: wh for key, wh in sums.items() if key[:4] not in undefined}, undefined


def test_allocation_equals_an_independent_computation(fleet: Path, tmp_path: Path) -> None:
    _allocate(fleet, tmp_path)
    expected, undefined = _independent(fleet)
    rows = _rows(tmp_path / "allocation.csv")
    assert list(rows[0]) == ["isp_utc", "grid_area", "brp", "supplier", "direction", "wh",
                             "points", "substituted"]  # fmt: skip
    assert len({r["isp_utc"] for r in rows}) == 96
    got = {(r["isp_utc"], r["grid_area"], r["brp"], r["supplier"], r["direction"]): r
           for r in rows}  # fmt: skip
    assert len(expected) > len(rows) / 4  # many cells are fully measured in many ISPs
    for key, wh in expected.items():
        assert int(got[key]["wh"]) == wh, key
        assert got[key]["substituted"] == "0", key
    for key, row in got.items():
        if key[:4] in undefined:
            assert int(row["substituted"]) > 0, key
        else:
            assert key in expected


def test_conservation_privacy_completeness_and_reproducibility(fleet: Path, tmp_path: Path) -> None:
    done = _allocate(fleet, tmp_path / "a")
    _allocate(fleet, tmp_path / "b")
    for name in ("allocation.csv", "published.csv", "completeness.csv", "run.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    rows = _rows(tmp_path / "a" / "allocation.csv")
    published = _rows(tmp_path / "a" / "published.csv")
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in rows:
        totals[(r["isp_utc"], r["grid_area"], r["direction"])] += int(r["wh"])
    merged: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in published:
        merged[(r["isp_utc"], r["grid_area"], r["direction"])] += int(r["wh"])
    assert merged == totals
    import json

    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert {"day", "input_sha256", "registry_sha256", "version", "k", "remainder"} <= set(run)
    for r in published:
        if int(r["points"]) < 10:
            assert (r["brp"], r["supplier"]) == (MERGED, MERGED)
            assert r["grid_area"] in run["remainder"]
    completeness = _rows(tmp_path / "a" / "completeness.csv")
    assert sum(int(c["opted_out"]) for c in completeness) > 0
    assert sum(int(c["missing"]) for c in completeness) > 0
    assert "edge-agent grid request --resend" in done.stdout


def test_a_register_decrease_and_an_opted_out_secondary_are_substituted(
    fleet: Path, tmp_path: Path
) -> None:
    from edge.grid.allocation import allocate_day

    registry = parse_registry(fleet / "registry.csv")
    blocks = list(read_blocks(fleet))
    result = allocate_day(DAY, blocks, registry)
    decreased = [ap for _, ap, _, c in blocks if (p := _payload(c))["day"] == DAY.isoformat()
                 and any("register_decreased" in f for f in p["flags"])]  # fmt: skip
    assert decreased
    received = {ap for _, ap, _, c in blocks if _payload(c)["day"] == DAY.isoformat()}
    opted = [r for r in registry if r.role == "secondary" and r.ap not in received
             and r.valid_on(DAY)]  # fmt: skip
    assert opted
    assert result.allocation.substituted.sum() > 0
    # conservation with substitutes: Σ offtake − Σ injection per ISP = Σ of the points' nets
    net = result.allocation.offtake.sum(axis=0) - result.allocation.injection.sum(axis=0)
    assert net.tolist() == (result.published.offtake.sum(axis=0)
                            - result.published.injection.sum(axis=0)).tolist()  # fmt: skip


@given(st.lists(st.tuples(st.sampled_from("AB"), st.sampled_from("xyz"), st.sampled_from("pqrs"),
                          st.integers(1, 30)), min_size=1, max_size=20),
       st.integers(1, 15))  # fmt: skip
def test_the_merge_plan_obeys_the_privacy_rule(
    raw: list[tuple[str, str, str, int]], k: int
) -> None:
    cells = {Cell(a, b, s): n for a, b, s, n in raw}
    keys = sorted(cells, key=lambda c: (c.grid_area, c.brp, c.supplier))
    target, remainder = merge_plan(keys, [cells[c] for c in keys], k)
    sizes: dict[Cell, int] = defaultdict(int)
    for cell, t in zip(keys, target, strict=True):
        assert t.grid_area == cell.grid_area
        assert t == cell or t.supplier == MERGED
        assert t.brp in (cell.brp, MERGED)
        if cells[cell] >= k:
            assert t == cell
        sizes[t] += cells[cell]
    for t, size in sizes.items():
        if size < k:
            assert (t.brp, t.supplier) == (MERGED, MERGED) and t.grid_area in remainder
    assert all(sizes[Cell(a, MERGED, MERGED)] < k for a in remainder)
