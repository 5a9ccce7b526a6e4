"""The customer's page with 40 days stored: response times of the views and their JSON.

Two simulated meters (household with PV, EV charger) over 40 days are replayed into a store
(telegrams every 60 s to keep the set-up short; the store holds the same quarter-hours as with
a faster meter), then the page is served in-process on a loopback port and every view is
fetched over real HTTP: the first request of each (cold: nothing cached, the store just opened)
and the median and worst of `--repeat` more. Targets (issue 12): the first view under 200 ms,
every page under 100 kB.

    python3 benchmarks/web.py [--days 40] [--repeat 20] [--keep DIR]

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.config import load_config  # noqa: E402
from edge.web import open_web  # noqa: E402
from firmware_sim.api import render_to_file  # noqa: E402
from tests.integration.helpers import PRIMARY, SECONDARY_EV, edge  # noqa: E402
from tests.web.helpers import Client, free_port, stored_gateway  # noqa: E402

FIRST_VIEW_MS = 200.0
PAGE_BYTES = 100_000
START = "2026-01-20T00:00:00+01:00"


def _fill(folder: Path, days: int) -> Path:
    gw = stored_gateway(folder, days=days, replay=False, read="lan")
    for ean, profile, seed in ((PRIMARY, "household-pv", 3), (SECONDARY_EV, "ev-charger", 4)):
        capture = folder / f"{ean}.cap"
        render_to_file(
            capture, "dsmr5", start=START, duration=f"{days * 24}h", seed=seed, profile=profile,
            interval=60, meter_id=f"METER{ean[-2:]}",
        )  # fmt: skip
        result = edge("replay", "--config", str(gw.config), "--ap", ean, str(capture), timeout=3600)
        if result.returncode != 0:
            raise SystemExit(result.stderr)
    return gw.config


def _time(client: Client, path: str) -> tuple[float, int, int]:
    begin = time.perf_counter()
    status, body = client.get(path)
    return (time.perf_counter() - begin) * 1000, status, len(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the store in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="p1edge-web-bench-"))
    config_path = folder / "agent.toml"
    begin = time.perf_counter()
    if not (config_path.exists() and (folder / "data" / "p1edge.sqlite").exists()):
        config_path = _fill(folder, args.days)
    print(f"store: {args.days} days x 2 meters in {folder} ({time.perf_counter() - begin:.0f} s)")
    last_day = "2026-02-27" if args.days == 40 else "2026-01-21"
    paths = {
        "now page": "/",
        "day page": f"/day?day={last_day}",
        "month page": "/month?month=2026-02",
        "privacy page": "/privacy",
        "now JSON": "/api/now.json",
        "day JSON": f"/api/day.json?day={last_day}",
        "month JSON": "/api/month.json?month=2026-02",
        "day CSV": f"/download/day.csv?day={last_day}",
    }
    server = open_web(load_config(config_path), port=free_port())
    server.start()
    failed = False
    try:
        client = Client(server.port)
        header = ("view", "status", "bytes", "first ms", "median ms", "max ms")
        print("{:<14} {:>6} {:>8} {:>9} {:>10} {:>8}".format(*header))
        for name, path in paths.items():
            first, status, size = _time(client, path)
            runs = [_time(client, path)[0] for _ in range(args.repeat)]
            print(
                f"{name:<14} {status:>6} {size:>8} {first:>9.1f} {statistics.median(runs):>10.1f}"
                f" {max(runs):>8.1f}"
            )
            if (
                status != 200
                or first > FIRST_VIEW_MS
                or (name.endswith("page") and size > PAGE_BYTES)
            ):
                failed = True
    finally:
        server.stop()
    print(f"targets: first view < {FIRST_VIEW_MS:.0f} ms, pages < {PAGE_BYTES // 1000} kB: "
          f"{'MISSED' if failed else 'met'}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
