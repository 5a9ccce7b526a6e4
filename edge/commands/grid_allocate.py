"""`edge-agent grid allocate`: the grid operator's daily allocation run, from the store.

Registered into `edge-agent grid` by `edge.commands.grid`. Reads one consistent set of the
store's blocks (the day and its two neighbours, for the continuity check), the registry and the
day's rejections, and for a point without a block of those days its last stored block (its
profile estimate) and its nearest blocks (the gap's request); the pure core
(`edge.grid.allocation`) computes; this shell writes the files and prints, for each gap, the
request that would fill it.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from edge.commands.grid_store import add_store_options
from edge.errors import BlockError, ConfigError
from edge.grid.defaults import ALLOCATION_K, ALLOCATION_TZ
from edge.grid.store import open_store, store_url

if TYPE_CHECKING:  # argparse's class is generic only to type checkers
    from edge.grid.allocation import Gap, Result

    _SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

# The allocation core needs numpy (the `grid` extra): it is imported when the command runs, so
# `edge-agent --help` works on a Pi without it; its defaults come from the numpy-free module.
DEFAULT_K = ALLOCATION_K
DEFAULT_TZ = ALLOCATION_TZ
NEEDS_NUMPY = "grid allocate needs numpy, the 'grid' extra: pip install 'p1edge[grid]'"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day YYYY-MM-DD") from None


def register_allocate(tools: _SubParsers) -> None:
    """Add `grid allocate`."""
    parser = tools.add_parser(
        "allocate",
        help="allocate one local day per ISP, grid area, BRP and supplier",
        description="Volumes from the stored day blocks, DSO validation (Meetcode 5.3.9), "
        "substitution, primary = main − Σ secondaries, sums per ISP × grid area × BRP × "
        "supplier × direction. Writes DIR/allocation.csv, DIR/published.csv (cells below K "
        "points merged), DIR/completeness.csv and DIR/run.json, byte-identical for the same "
        "inputs; prints the request that fills each gap.",
    )
    add_store_options(parser)
    parser.add_argument("--day", required=True, type=_day, metavar="YYYY-MM-DD")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.add_argument("--min-points", type=int, default=DEFAULT_K, metavar="K",
                        help=f"publish no cell below K points ({DEFAULT_K})")  # fmt: skip
    parser.add_argument("--tz", default=DEFAULT_TZ, help=f"the local days' zone ({DEFAULT_TZ})")
    parser.set_defaults(func=run_allocate)


def _fail(message: str) -> int:
    print(f"edge-agent grid allocate: {message}", file=sys.stderr)
    return 2


def run_allocate(args: argparse.Namespace) -> int:
    """Run; exit 0 (also with gaps: they are substituted and listed), 2 on unusable input."""
    started = time.monotonic()
    days = [(args.day + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]
    try:
        if args.min_points < 1:
            raise ConfigError("--min-points must be at least 1")
        store = open_store(store_url(args.store, args.db))
    except ConfigError as exc:
        return _fail(str(exc))
    try:
        from edge.grid.allocation import allocate_day
        from edge.grid.allocation.gaps import resend_range
    except ImportError:
        store.close()
        return _fail(NEEDS_NUMPY)
    try:
        registry = store.registry_rows()
        if not registry:
            return _fail(f"the registry in {store.url} is empty: grid registry import FILE.csv")
        rejected = {r.ap for r in store.rejected_for_days([days[1]]) if r.ap}

        def history(ap: str) -> bytes | None:  # before the neighbour days: they came already
            return store.latest_block_before(ap, days[0])

        result = allocate_day(args.day, store.blocks_for_days(days), registry,
                              rejected_aps=rejected, k=args.min_points, tz=args.tz,
                              history=history)  # fmt: skip
        gaps = [resend_range(gap, args.day, *store.nearest_blocks(gap.ap, days[1]))
                for gap in result.gaps]  # fmt: skip
    except (BlockError, ValueError) as exc:
        return _fail(str(exc))
    finally:
        store.close()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, text in result.files.items():
            (args.out / name).write_text(text)
    except OSError as exc:
        return _fail(f"cannot write to {args.out}: {exc.strerror or exc}")
    _print(result, gaps, args, time.monotonic() - started)
    return 0


def _print(result: Result, gaps: list[Gap], args: argparse.Namespace, seconds: float) -> None:
    areas = result.completeness
    expected = sum(a.points_expected for a in areas)
    received = sum(a.blocks_received for a in areas)
    substituted = sum(a.substituted for a in areas)
    print(f"allocate {args.day}: {expected} points, {received} blocks received, "
          f"{substituted} points with substitutes, {len(result.allocation.cells)} cells "
          f"({len(result.published.cells)} published) in {args.out} ({seconds:.1f} s)")  # fmt: skip
    for problem in result.problems:
        print(f"unusable: {problem}")
    for gap in gaps:
        print(request_line(gap, args.day))


def request_line(gap: Gap, day: date) -> str:
    """The `grid request` that would fill a gap: the resend of its seqs where the store tells
    them, else the readout of the day (`--day`), with the gateway to fill in where no block of
    the point (or its connection) is stored."""
    tail = f"--gateway {gap.gw or 'GW'} --ap {gap.ap} --key OPERATOR.pem --broker URL"
    if gap.gw is None:
        return (f"gap   {gap.ap} ({gap.status}): no block of it stored, its gateway unknown: "
                f"edge-agent grid request --day {day} {tail}")  # fmt: skip
    if gap.first_seq is not None and gap.last_seq is not None and gap.first_seq <= gap.last_seq:
        seqs = f"{gap.first_seq}-{gap.last_seq}"
        return f"gap   {gap.ap} ({gap.status}): edge-agent grid request --resend {seqs} {tail}"
    return f"gap   {gap.ap} ({gap.status}): edge-agent grid request --day {day} {tail}"
