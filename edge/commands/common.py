"""What the sub-commands share: the --config option, loading it, opening the store.

The configuration is `--config FILE`, else `$P1EDGE_CONFIG`, else `/etc/p1edge/agent.toml`
(the path the systemd unit uses), so an installer types `edge-agent status` on the box.
Read-only commands (status, log, peaks, export, plot) load it without touching the data
directory and open the database read-only: they create nothing, also under sudo.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from datetime import date
from pathlib import Path
from typing import NoReturn

from edge.config import Config, load_config
from edge.config.loader import prepare_data_dir
from edge.errors import ConfigError, StoreError
from edge.store import connect

DEFAULT_CONFIG = "/etc/p1edge/agent.toml"
CONFIG_ENV = "P1EDGE_CONFIG"


def default_config() -> str:
    """`$P1EDGE_CONFIG` if set (and not empty), else `/etc/p1edge/agent.toml`."""
    return os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help=f"the agent's TOML file (default: ${CONFIG_ENV}, else {DEFAULT_CONFIG})",
    )


def fail(message: str) -> NoReturn:
    """One line on stderr, exit code 2: a user error, not a crash."""
    print(f"edge-agent: {message}", file=sys.stderr)
    raise SystemExit(2)


def config_or_exit(path: str | None, *, prepare_dirs: bool = False) -> Config:
    """Load the configuration (`None`: the default path) or exit 2 with one line.

    `prepare_dirs`: create and probe `gateway.data_dir` (only commands that write need it).
    """
    path = path or default_config()
    try:
        return load_config(path, prepare_dirs=prepare_dirs)
    except ConfigError as exc:
        fail(
            str(exc)
            if str(exc).startswith(str(Path(path).expanduser().absolute()))
            else f"{path}: {exc}"
        )


def open_store_or_exit(config: Config, *, readonly: bool = False) -> sqlite3.Connection:
    """The database, or exit 2 with one line naming it (a missing one too, when read-only)."""
    try:
        if not readonly:
            prepare_data_dir(config.gateway.data_dir)
        return connect(config.gateway.data_dir, readonly=readonly)
    except (StoreError, ConfigError) as exc:
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
