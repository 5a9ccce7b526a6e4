"""`edge-agent` command line: one module per sub-command in `edge.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from edge import __version__

# Each module exposes `register(subparsers)`; its parser sets `func(args) -> int`.
COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "export",
    "status",
    "consent",
    "demo",
    "decode",
    "keygen",
    "grid",
    "config_check",
    "peaks",
    "plot",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-agent",
        description="P1 edge gateway: smart-meter quarter-hour registers, signed day blocks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"edge.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return result
