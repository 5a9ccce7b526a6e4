"""`edge-agent` command line: one module per sub-command in `edge.commands`."""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys
from collections.abc import Sequence

from edge import __version__, logsetup

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
    for sub in subparsers.choices.values():
        _add_quiet(sub)
    return parser


def _add_quiet(parser: argparse.ArgumentParser) -> None:
    """`-q/--quiet` beside every command's `-v/--verbose` (those commands log; edge.logsetup)."""
    options = {o for action in parser._actions for o in action.option_strings}
    if "-v" in options and "-q" not in options:
        parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = words[0] if words and not words[0].startswith("-") else None
    parser = build_parser(command)
    args = parser.parse_args(words)
    if getattr(args, "verbose", None) is not None:  # a command that logs: one setup for all
        if getattr(args, "quiet", False) and args.verbose:
            parser.error("-q/--quiet and -v/--verbose exclude each other")
        logsetup.configure(1 if args.verbose else -1 if getattr(args, "quiet", False) else 0)
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
