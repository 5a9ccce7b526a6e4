"""`edge-agent` command line: one module per sub-command in `edge.commands`."""

from __future__ import annotations

import argparse
import importlib
import sqlite3
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
    "web",
)


# Commands whose module differs from their name; any other command `x` lives in module `x`.
# Importing only the invoked command's module keeps the resident agent small (SPEC §10: the
# live agent stays under 60 MB) — `--help` and unknown words still load them all.
COMMAND_HOMES: dict[str, str] = {"replay": "run", "log": "consent", "check-config": "config_check"}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, only that command's module is imported."""
    parser = argparse.ArgumentParser(
        prog="edge-agent",
        description="P1 edge gateway: smart-meter quarter-hour registers, signed day blocks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    home = COMMAND_HOMES.get(command or "", command)
    modules = (home,) if home in COMMAND_MODULES else COMMAND_MODULES
    for name in modules:
        importlib.import_module(f"edge.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = words[0] if words and not words[0].startswith("-") else None
    args = build_parser(command).parse_args(words)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except sqlite3.DatabaseError as exc:  # damage found by a query: one line, with the path
        from edge.store.db import last_opened

        where = last_opened() or "the database"
        print(f"edge-agent: {where}: {exc}; restore a backup or move it away", file=sys.stderr)
        return 2
    return result
