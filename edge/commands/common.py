"""What the sub-commands share: the --config option, loading it, opening the store."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from datetime import date
from typing import NoReturn

from edge.config import Config, load_config
from edge.errors import ConfigError, StoreError
from edge.store import connect


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="the agent's TOML file")


def fail(message: str) -> NoReturn:
    """One line on stderr, exit code 2: a user error, not a crash."""
    print(f"edge-agent: {message}", file=sys.stderr)
    raise SystemExit(2)


def config_or_exit(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(f"{path}: {exc}")


def open_store_or_exit(config: Config, *, readonly: bool = False) -> sqlite3.Connection:
    try:
        return connect(config.gateway.data_dir, readonly=readonly)
    except StoreError as exc:
        fail(str(exc))


def day_argument(text: str) -> date:
    """argparse type for a local day, `YYYY-MM-DD`."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def month_argument(text: str) -> str:
    """argparse type for a month, `YYYY-MM` (kept as text)."""
    from edge.registers.capacity import parse_month

    try:
        parse_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text
