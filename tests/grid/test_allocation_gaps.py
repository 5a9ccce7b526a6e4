"""`grid allocate` names the gateway and the seqs of a gap from the whole store, not only from
the neighbour days' blocks: a gateway that last sent two days before still gets its
`grid request --resend FROM-TO --gateway GW` line; a point with no block stored at all gets the
README's `--day` form with the gateway left to fill in, and says so.

Real blocks from the fleet generator in a real SQLite store (the store's own ingest), the
command as a process.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import cbor2
import pytest

from edge.grid.fleet import FleetSpec, generate, plan
from edge.grid.store import Candidate, open_store

SPEC = FleetSpec(gateways=6, days=4, seed=11, secondaries=0.0, opt_out=0.0, gap_rate=0.0,
                 fault_rate=0.0, decrease_rate=0.0)  # fmt: skip
DAY = SPEC.first_day + timedelta(days=2)


def _payload(cose: bytes) -> dict:  # type: ignore[type-arg]
    return cbor2.loads(cbor2.loads(cose).value[2])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The store: gateway A sent only its first day, gateway B nothing, the others all days."""
    meters, rows = plan(SPEC)
    gateways = sorted({m.gw for m in meters})
    away, silent = gateways[0], gateways[1]
    path = tmp_path_factory.mktemp("gaps") / "grid.sqlite"
    db = open_store(f"sqlite:///{path}")
    items = []
    for b in generate(SPEC):
        if b.gw == silent or (b.gw == away and b.day != SPEC.first_day):
            continue
        p = _payload(b.cose)
        topic = f"p1edge/v1/{b.gw}/ap/{b.ap}/day/{p['day']}"
        sha = hashlib.sha256(b.cose).digest()
        items.append(Candidate(topic, b.gw, b.ap, b.seq, p["day"], "day", "kid", p["prev"], sha,
                               b.cose))  # fmt: skip
    db.ingest(items, now=0)
    db.import_registry(rows)
    db.close()
    return path, {"away": away, "silent": silent}


@pytest.fixture(scope="module")
def gap_lines(
    store: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """One `grid allocate` run of DAY (a process): its `gap` line of each point, by point."""
    path, _ = store
    out = tmp_path_factory.mktemp("allocation")
    done = subprocess.run(
        [sys.executable, "-m", "edge", "grid", "allocate", "--store", f"sqlite:///{path}",
         "--day", DAY.isoformat(), "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    gaps = [line for line in done.stdout.splitlines() if line.startswith("gap   ")]
    return {line.split()[1]: line for line in gaps}


def _aps_of(gw: str) -> list[str]:
    meters, _ = plan(SPEC)
    return [m.ap for m in meters if m.gw == gw]


def test_a_gap_beyond_the_neighbour_days_names_its_gateway_and_seqs(
    store: tuple[Path, dict[str, str]], gap_lines: dict[str, str]
) -> None:
    _, gws = store
    for ap in _aps_of(gws["away"]):
        # its seq 1 is of the first day; the day allocated is two days later: seqs 2 (the day
        # before, also missing) to 3 (the day) are asked for
        line = gap_lines[ap]
        assert line == (
            f"gap   {ap} (missing): edge-agent grid request --resend 2-3 --gateway "
            f"{gws['away']} --ap {ap} --key OPERATOR.pem --broker URL"
        ), line


def test_a_point_with_no_block_stored_gets_the_day_form_and_says_so(
    store: tuple[Path, dict[str, str]], gap_lines: dict[str, str]
) -> None:
    _, gws = store
    for ap in _aps_of(gws["silent"]):
        line = gap_lines[ap]
        assert line == (
            f"gap   {ap} (missing): no block of it stored, its gateway unknown: "
            f"edge-agent grid request --day {DAY} --gateway GW --ap {ap} --key OPERATOR.pem "
            "--broker URL"
        ), line


def test_the_seqs_from_the_nearest_blocks() -> None:
    from datetime import date

    from edge.grid.allocation import Gap
    from edge.grid.allocation.gaps import resend_range

    day = date(2026, 3, 29)
    gap = Gap("871687000000000603", "missing", None, None, None)
    seqs = lambda g: (g.gw, g.first_seq, g.last_seq)  # noqa: E731
    # the day before only: the one block of the day
    assert seqs(resend_range(gap, day, ("gw-1", 7, "2026-03-28"), None)) == ("gw-1", 8, 8)
    # two days back, and the next later block of the same chain right after the day
    earlier, later = ("gw-1", 1, "2026-03-27"), ("gw-1", 3, "2026-03-30")
    assert seqs(resend_range(gap, day, earlier, later)) == ("gw-1", 2, 2)
    assert seqs(resend_range(gap, day, earlier, ("gw-2", 1, "2026-03-30"))) == ("gw-1", 2, 3)
    # a later block alone: the seqs before it, as many as there are days between
    assert seqs(resend_range(gap, day, None, ("gw-1", 9, "2026-03-31"))) == ("gw-1", 7, 8)
    # a chain that began after the day: the gateway, no seqs (the `--day` form)
    assert seqs(resend_range(gap, day, None, ("gw-1", 1, "2026-03-30"))) == ("gw-1", None, None)
    assert resend_range(gap, day, None, None) == gap
