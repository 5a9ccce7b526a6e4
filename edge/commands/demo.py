"""`edge-agent demo [--days N]`: simulator, agent, broker and grid operator on this machine."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole chain hardware-free: meters, agent, broker, grid operator",
        description="Simulated smart meters (one primary, an EV charger and a PV installation) "
        "on pseudo-terminals, the agent in meter time, an MQTT broker and the grid operator's "
        "collector; ends with a table of what was recorded and released.",
    )
    parser.add_argument("--days", type=_days, default=3, help="simulated days (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary files")
    parser.add_argument(
        "--broker",
        choices=("auto", "mosquitto", "embedded"),
        default="auto",
        help="auto: mosquitto when installed, else the embedded amqtt (MQTT 3.1.1)",
    )
    parser.set_defaults(func=run)


def _days(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 30:
        raise argparse.ArgumentTypeError("--days is 1 to 30")
    return value


def run(args: argparse.Namespace) -> int:
    from edge.demo.runner import run_demo

    folder = Path(tempfile.mkdtemp(prefix="p1edge-demo-"))
    try:
        code = run_demo(args.days, folder, sys.stdout, args.broker)
    except KeyboardInterrupt:
        print("demo: interrupted, everything stopped", file=sys.stderr)
        code = 130
    except RuntimeError as exc:
        print(f"edge-agent demo: {exc}", file=sys.stderr)
        code = 2
    if args.keep or code == 1:
        print(f"demo: files kept in {folder}", file=sys.stderr)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return code
