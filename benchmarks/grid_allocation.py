"""Benchmark of the allocation run: one day of 100 000 allocation points, and the projection.

(b) one day of 100 000 points (9.6 M interval values) allocated from the signed blocks (decode,
validation, substitution, netting, group-by, privacy, files' text) as `grid allocate` does it:
the blocks of the day before and after come too (the continuity check), so the run reads a
fleet of three days and allocates the middle one: target < 10 s, with the peak memory of the
allocating process; (c) the projection to 8 M points from the times at 10 k, 30 k and 100 k (a
least-squares line): target < 15 min. For comparison the same day from its own blocks alone,
and the group-by engine compared on the same columns: numpy (the run's), DuckDB over the same
arrays, SQLite in memory.

The fleet is generated once (the fleet generator, real signatures) and the smaller sizes are
its first points (by ap), with their blocks of all three days. Runnable alone
(`python3 benchmarks/grid_allocation.py`) or from `benchmarks/grid.py`
(`run_allocation_benchmark()`).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sqlite3
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.grid.allocation import allocate_day
from edge.grid.allocation.cells import point_nets
from edge.grid.allocation.decode import decode_day
from edge.grid.allocation.points import day_points
from edge.grid.allocation.substitute import group_sum, substitute
from edge.grid.fleet import FleetSpec, generate, plan
from edge.grid.registry import RegistryRow

SIZES = (10_000, 30_000, 100_000)
NATIONAL = 8_000_000
_STATE: dict[str, object] = {}


def _fleet(points: int) -> tuple[list[RegistryRow], list[tuple[str, str, int, bytes]], date]:
    """A fleet of three days: its middle day is allocated, as `grid allocate` reads it."""
    spec = FleetSpec(gateways=int(points / 1.39) + 1, days=3, seed=2026)
    _, rows = plan(spec)
    day = spec.first_day + timedelta(days=1)
    fleet = list(generate(spec))
    _STATE["own"] = {(b.gw, b.ap, b.seq) for b in fleet if b.day == day}
    return rows, [(b.gw, b.ap, b.seq, b.cose) for b in fleet], day


def _subset(rows: list[RegistryRow], blocks: list[tuple[str, str, int, bytes]], points: int
            ) -> tuple[list[RegistryRow], list[tuple[str, str, int, bytes]]]:  # fmt: skip
    aps = {r.ap for r in sorted(rows, key=lambda r: r.ap)[:points]}
    return [r for r in rows if r.ap in aps], [b for b in blocks if b[1] in aps]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(points: int, own: bool, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    fleet: tuple[list[RegistryRow], list[tuple[str, str, int, bytes]], date]
    fleet = _STATE["fleet"]  # type: ignore[assignment]
    rows, blocks, day = fleet
    if points:
        rows, blocks = _subset(rows, blocks, points)
    if own:  # the day's own blocks only (what this benchmark fed before `grid allocate`'s)
        own_keys: set[tuple[str, str, int]] = _STATE["own"]  # type: ignore[assignment]
        blocks = [b for b in blocks if b[:3] in own_keys]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu, started = _cpu(), time.perf_counter()
    result = allocate_day(day, blocks, rows)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((seconds, cpu, peak / 1024, before / 1024, len(result.allocation.cells)))


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _timed(points: int, own: bool = False) -> tuple[float, float, float, float, int]:
    context = multiprocessing.get_context("fork")  # the child shares the generated fleet
    queue = context.Queue()
    child = context.Process(target=_child, args=(points, own, queue))
    child.start()
    figures = queue.get(timeout=600)
    child.join()
    return figures  # type: ignore[no-any-return]


def _engines(rows: list[RegistryRow], blocks: list[tuple[str, str, int, bytes]], day: date
             ) -> None:  # fmt: skip
    points = day_points(rows, day)
    cols = decode_day(blocks, points, "Europe/Amsterdam")
    started = time.perf_counter()
    imp, exp, sub = substitute(points, cols)
    net, _ = point_nets(points, imp, exp, sub)
    print(f"  of which substitution + netting: {time.perf_counter() - started:.2f} s")
    keys = sorted({(r.grid_area, r.brp, r.supplier) for r in points.rows})
    index = {k: i for i, k in enumerate(keys)}
    ids = np.array([index[(r.grid_area, r.brp, r.supplier)] for r in points.rows])
    started = time.perf_counter()
    group_sum(np.maximum(net, 0), ids, len(keys))
    group_sum(np.maximum(-net, 0), ids, len(keys))
    numpy_s = time.perf_counter() - started
    p, n = net.shape
    long = {"cell": np.repeat(ids, n), "isp": np.tile(np.arange(n), p), "net": net.ravel()}
    try:
        import duckdb

        con = duckdb.connect()
        started = time.perf_counter()
        con.sql("SELECT cell, isp, sum(greatest(net, 0)) AS off, sum(greatest(-net, 0)) AS inj "
                "FROM long GROUP BY cell, isp").fetchnumpy()  # fmt: skip
        duck = f"{time.perf_counter() - started:.3f} s (over the same arrays, long form)"
    except ImportError:
        duck = "not installed"
    sample = 10_000 * n
    con2 = sqlite3.connect(":memory:")
    con2.execute("CREATE TABLE v (cell INTEGER, isp INTEGER, net INTEGER)")
    started = time.perf_counter()
    values = zip(long["cell"][:sample].tolist(), long["isp"][:sample].tolist(),
                 long["net"][:sample].tolist(), strict=True)  # fmt: skip
    con2.executemany("INSERT INTO v VALUES (?, ?, ?)", values)
    con2.execute("SELECT cell, isp, sum(max(net, 0)), sum(max(-net, 0)) FROM v "
                 "GROUP BY cell, isp").fetchall()  # fmt: skip
    lite = (time.perf_counter() - started) * p / 10_000
    print(f"  group-by of {p * n / 1e6:.1f} M values: numpy {numpy_s:.3f} s; DuckDB {duck}; "
          f"SQLite {lite:.1f} s (load + group-by, 10 k points scaled)")  # fmt: skip


def run_allocation_benchmark() -> None:
    """Print (b) and (c) as measured on this machine."""
    started = time.perf_counter()
    rows, blocks, day = _fleet(max(SIZES))
    print(f"grid allocation: fleet of {len(rows)} points, {len(blocks)} signed blocks of 3 "
          f"days generated in {time.perf_counter() - started:.0f} s; allocating {day} with "
          f"its neighbour days' blocks, as `grid allocate` reads them")  # fmt: skip
    _STATE["fleet"] = (rows, blocks, day)
    times, cpus = [], []
    for size in SIZES:
        load = _load()
        seconds, cpu, peak, base, cells = _timed(size)
        times.append(seconds)
        cpus.append(cpu)
        print(f"  {size:>7} points ({size * 96 / 1e6:.2f} M interval values): {seconds:.2f} s "
              f"({cpu:.2f} s CPU), peak RSS {peak:.0f} MiB (input: {base:.0f} MiB), {cells} cells"
              f"; {load} before, {_load()} after")  # fmt: skip
    slope, intercept = np.polyfit(np.array(SIZES, dtype=float), np.array(times), 1)
    cpu_slope, cpu_intercept = np.polyfit(np.array(SIZES, dtype=float), np.array(cpus), 1)
    projected = slope * NATIONAL + intercept
    verdict = "meets" if times[-1] < 10 else "MISSES"
    print(f"(b) one day of 100 000 points: {times[-1]:.2f} s ({verdict} < 10 s)")
    verdict = "meets" if projected < 900 else "MISSES"
    print(f"(c) projected to {NATIONAL:,} points: {projected / 60:.1f} min "
          f"({slope * 1e6:.0f} µs per point; {verdict} < 15 min); from the CPU times: "
          f"{(cpu_slope * NATIONAL + cpu_intercept) / 60:.1f} min")  # fmt: skip
    load = _load()
    seconds, cpu, _, _, _ = _timed(max(SIZES), own=True)
    print(f"  for comparison, the day's own blocks alone: {seconds:.2f} s ({cpu:.2f} s CPU), so"
          f" the neighbour days cost {times[-1] - seconds:.2f} s; {load} before")  # fmt: skip
    own_keys: set[tuple[str, str, int]] = _STATE["own"]  # type: ignore[assignment]
    _engines(*_subset(rows, [b for b in blocks if b[:3] in own_keys], max(SIZES)), day)
    del rows, blocks
    _STATE.clear()


if __name__ == "__main__":
    run_allocation_benchmark()
