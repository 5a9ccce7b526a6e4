"""The demo's grid operator after the collection: the registry, then the daily allocation run.

The same commands a DSO runs (`grid registry import`, `grid allocate`), as processes, on the
store the demo's collector filled; the table sums each complete day's allocation per cell.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

from edge.grid.registry import COLUMNS

AREA = "GA-DEMO"
CONTRACTS = {  # label -> (supplier, BRP, capacity kVA)
    "house": ("SUP-HUIS", "BRP-NOORD", "17.3"),
    "EV": ("SUP-LAAD", "BRP-NOORD", "17.3"),  # a charger may use the whole connection
    "PV": ("SUP-ZON", "BRP-ZUID", "5.7"),
}


def allocate_days(
    folder: Path, store: Path, points: tuple[tuple[str, str, str, str, str], ...], first: date,
    days: int,
) -> tuple[bool, list[str]]:  # fmt: skip
    """Import the demo's registry and allocate each complete day; (ok, table lines)."""
    registry = folder / "registry.csv"
    connection = points[0][0]
    lines = [",".join(COLUMNS)]
    for ean, role, _, _, label in points:
        supplier, brp, kva = CONTRACTS[label]
        lines.append(f"{ean},{connection},{role},{AREA},{supplier},{brp},{kva},{first},")
    registry.write_text("\n".join(lines) + "\n")
    url = f"sqlite:///{store}"
    done = _run("grid", "registry", "--store", url, "import", str(registry))
    if done.returncode != 0:
        return False, [f"grid operator: registry import failed: {done.stderr.strip()}"]
    table = [
        "",
        "grid operator's allocation, per cell summed over the day (--min-points 1):",
        f"{'day':<11} {'grid area':<9} {'BRP':<10} {'supplier':<9} {'offtake kWh':>11} "
        f"{'injection kWh':>13} {'points':>6} {'substituted ISPs':>16}",
    ]
    ok = True
    for offset in range(days):
        day = first + timedelta(days=offset)
        out = folder / "allocation" / day.isoformat()
        done = _run("grid", "allocate", "--store", url, "--day", day.isoformat(),
                    "--out", str(out), "--min-points", "1")  # fmt: skip
        if done.returncode != 0:
            table.append(f"{day}: grid allocate failed: {done.stderr.strip()}")
            ok = False
            continue
        table += _day_rows(day, out / "allocation.csv")
    return ok, table


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge", *args], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def _day_rows(day: date, path: Path) -> list[str]:
    sums: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            cell = sums[(row["grid_area"], row["brp"], row["supplier"])]
            cell[0 if row["direction"] == "offtake" else 1] += int(row["wh"])
            cell[2] = int(row["points"])
            if row["direction"] == "offtake":
                cell[3] += int(row["substituted"]) > 0
    return [
        f"{day.isoformat():<11} {area:<9} {brp:<10} {supplier:<9} {off / 1000:>11.3f} "
        f"{inj / 1000:>13.3f} {points:>6} {substituted:>16}"
        for (area, brp, supplier), (off, inj, points, substituted) in sorted(sums.items())
    ]
