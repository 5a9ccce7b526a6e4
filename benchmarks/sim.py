"""Simulator benchmark (SPEC §10): one DSMR 5 day, 86 400 telegrams, rendered to a file.

The peer is the meter itself: a real DSMR 5 meter needs the whole day for it, so the ratio is
the simulator's speed-up over real time (dsmr_parser has no renderer to compare with).
Run: python3 benchmarks/sim.py  — prints the figure against the < 2 s target.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from firmware_sim.api import render_to_file

TARGET_S = 2.0


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.p1"
        render_to_file(path, "dsmr5", start="2026-03-09T00:00:00+01:00", duration="1h", seed=1)
        t0 = time.perf_counter()
        out = render_to_file(
            path, "dsmr5", start="2026-03-10T00:00:00+01:00", duration="1d", seed=1, gas=True
        )
        elapsed = time.perf_counter() - t0
        size = path.stat().st_size
    n = len(out.times)
    print(
        f"sim: {n} DSMR5 telegrams in {elapsed:.2f} s ({n / elapsed:.0f} telegrams/s, "
        f"{size / 1e6:.1f} MB); target < {TARGET_S:.0f} s"
    )
    print(f"peer: a real meter takes 86400 s for the day; ratio {86_400 / elapsed:,.0f}x real time")
    return 0 if elapsed < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
