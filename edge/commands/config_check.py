"""`edge-agent check-config`: validate a configuration file; print a summary or the mistake."""

from __future__ import annotations

import argparse
import sys

from edge.commands.common import add_config_argument, default_config
from edge.config import Config, FileSource, MBusSource, SerialSource, Source, load_config
from edge.config.loader import probe_data_dir
from edge.errors import ConfigError

EXIT_CONFIG_ERROR = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `check-config` sub-command."""
    parser = subparsers.add_parser(
        "check-config",
        help="validate a configuration file",
        description="Validate the TOML configuration and print a summary (capacity, band, "
        "allocation points), or the mistake with the key that names it (exit 2).",
    )
    add_config_argument(parser)
    parser.add_argument(
        "--files",
        action="store_true",
        help="also check that key, certificate and password files are readable",
    )
    parser.add_argument(
        "--no-dirs",
        action="store_true",
        help="do not probe gateway.data_dir (checking a config for another machine)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate `args.config`; print a summary to stdout or the error to stderr."""
    try:
        # creates nothing: the data directory is only probed (the agent makes it)
        config = load_config(args.config or default_config(), prepare_dirs=False)
        data_dir = None if args.no_dirs else probe_data_dir(config.gateway.data_dir)
        if args.files:
            config.check_files()
    except ConfigError as exc:
        print(f"edge-agent check-config: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    print("\n".join(summary(config, data_dir)))
    return 0


def summary(config: Config, data_dir: str | None = None) -> list[str]:
    """A few lines an installer can check against the meter cabinet."""
    conn = config.connection
    phases = "1 phase" if conn.phases == 1 else f"{conn.phases} phases"
    gateway = config.gateway
    lines = [
        f"configuration OK: {config.path}",
        f"gateway    {gateway.id}  ({gateway.timezone}, clock {gateway.clock})",
        f"data_dir   {gateway.data_dir}" + (f"  ({data_dir})" if data_dir else ""),
        f"connection {conn.ean}  {phases} {conn.voltage} V {conn.fuse_a} A = "
        f"{conn.capacity_kva} kVA ({conn.capacity_basis}), band {conn.band}, "
        f"{conn.quarter_capacity_wh} Wh per quarter-hour (R2 flag at >= {conn.r2_limit_wh} Wh)",
    ]
    for point in config.points:
        regime = point.regime or config.policy.regime
        label = f"  {point.name}" if point.name else ""
        lines.append(
            f"{point.role:<10} {point.ean}  {_source(point.source)}  "
            f"dialect {point.dialect}  regime {regime}{label}"
        )
    grid = config.grid
    lines.append(f"grid       {grid.broker} prefix {grid.prefix}" if grid else "grid       none")
    local = config.local
    lines.append(f"local      {local.broker} prefix {local.prefix}" if local else "local      none")
    return lines


def _source(source: Source) -> str:
    if isinstance(source, FileSource):
        return f"file:{source.path}"
    if isinstance(source, MBusSource):
        return f"mbus:{source.ean}:{source.channel}"
    assert isinstance(source, SerialSource)
    return source.url
