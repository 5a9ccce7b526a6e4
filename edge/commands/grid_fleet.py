"""`edge-agent grid fleet`: the blocks N simulated gateways would sign, as files (and published).

Registered into `edge-agent grid` by `edge.commands.grid`.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from edge.adapters.mqtt_config import BrokerSettings
from edge.errors import ConfigError, MqttError
from edge.grid.defaults import FLEET_FIRST_DAY, FLEET_TZ

# The fleet generator needs numpy (the `grid` extra): imported when the command runs, so
# `edge-agent --help` works on a Pi without it; its defaults come from the numpy-free module.
FIRST_DAY = FLEET_FIRST_DAY
TZ = FLEET_TZ

if TYPE_CHECKING:  # argparse's class is generic only to type checkers
    _SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction from 0 to 1")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def register_fleet(tools: _SubParsers) -> None:
    """Add `grid fleet`."""
    parser = tools.add_parser(
        "fleet",
        help="generate the registry, keys and signed day blocks of N simulated gateways",
        description="Write DIR/registry.csv, DIR/pubkeys/<gw>.pub and "
        "DIR/blocks/<gw>/<ap>/<seq>.cose: real Ed25519 keys, the agent's block format, "
        "volumes from household/EV/PV profiles, with gaps, interpolated intervals, a flagged "
        "register decrease now and then, and opted-out points. Reproducible from --seed. With "
        "--publish, also send them to the broker on their day topics at QoS 1.",
    )
    parser.add_argument("--gateways", required=True, type=_positive, metavar="N")
    parser.add_argument("--days", required=True, type=_positive, metavar="D")
    parser.add_argument("--seed", required=True, type=int, metavar="S")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.add_argument("--secondaries", type=_fraction, default=0.3, metavar="FRACTION",
                        help="connections with an EV charger and/or PV meter (0.3)")  # fmt: skip
    parser.add_argument("--opt-out", type=_fraction, default=0.02, metavar="FRACTION",
                        help="points that opt out on a random day (0.02)")  # fmt: skip
    parser.add_argument("--first-day", type=date.fromisoformat, default=FIRST_DAY,
                        metavar="DAY", help=f"the first local day ({FIRST_DAY})")  # fmt: skip
    parser.add_argument("--tz", default=TZ, help=f"the meters' zone ({TZ})")
    parser.add_argument("--publish", metavar="URL", help="also publish to this broker")
    parser.add_argument("--protocol", default="5", choices=("5", "3.1.1"), help="MQTT (5)")
    parser.add_argument("--window", type=float, default=0.0, metavar="S",
                        help="spread the publications over S seconds (0: at once)")  # fmt: skip
    parser.set_defaults(func=run_fleet)


def run_fleet(args: argparse.Namespace) -> int:
    """Generate (and publish); exit 2 on unusable options, 1 if the broker failed."""
    try:
        from edge.grid.fleet import FleetSpec, generate
    except ImportError:
        print("edge-agent grid fleet: needs numpy, the 'grid' extra: pip install 'p1edge[grid]'",
              file=sys.stderr)  # fmt: skip
        return 2
    spec = FleetSpec(
        gateways=args.gateways, days=args.days, seed=args.seed, secondaries=args.secondaries,
        opt_out=args.opt_out, first_day=args.first_day, tz=args.tz,
    )  # fmt: skip
    from edge.grid.fleet_io import publish_blocks, write_fleet

    started = time.monotonic()
    try:
        settings = BrokerSettings.from_config(args.publish, protocol=args.protocol) \
            if args.publish else None  # fmt: skip
        blocks = list(generate(spec))
        written = write_fleet(spec, args.out, blocks)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"edge-agent grid fleet: {exc}", file=sys.stderr)
        return 2
    print(f"fleet: {args.gateways} gateways, {written} blocks over {args.days} days in "
          f"{args.out} ({time.monotonic() - started:.1f} s)", flush=True)  # fmt: skip
    if settings is None:
        return 0
    try:
        acked = publish_blocks(settings, blocks, window=args.window)
    except MqttError as exc:
        print(f"edge-agent grid fleet: {exc}", file=sys.stderr)
        return 1
    print(f"fleet: {acked} blocks published to {args.publish} at QoS 1", flush=True)
    return 0
