"""`edge-agent run` (the agent) and `edge-agent replay` (captures through the same pipeline)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from pathlib import Path

from edge.adapters.systemd import attach_systemd
from edge.agent import Agent, capture_sources
from edge.commands.common import add_config_argument, config_or_exit, fail
from edge.errors import ConfigError, EdgeError
from edge.ingest import interval_for
from edge.local.meter_peaks import attach_meter_peaks
from edge.progress import ProgressBar


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run_parser = subparsers.add_parser("run", help="run the agent")
    add_config_argument(run_parser)
    run_parser.add_argument(
        "--until-eof",
        action="store_true",
        help="stop when every file: source has ended and nothing is left to do",
    )
    run_parser.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="with --until-eof: wait at most S seconds for the outbox to empty (60)",
    )
    run_parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    run_parser.set_defaults(func=run)

    replay = subparsers.add_parser(
        "replay",
        help="feed capture files through the agent's pipeline",
        description="Reads captures as fast as possible through exactly the pipeline of a live "
        "source, into the agent's store.",
    )
    add_config_argument(replay)
    replay.add_argument("--ap", required=True, metavar="EAN", help="allocation point")
    replay.add_argument("captures", nargs="+", metavar="CAPTURE")
    replay.add_argument(
        "--start",
        type=_instant,
        metavar="ISO-8601",
        help="place telegrams that carry no time (DSMR 2.2/3) from the capture's pacing: the "
        "first at this instant (with its UTC offset), each next one the dialect's interval later",
    )
    replay.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    replay.set_defaults(func=run_replay)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run(args: argparse.Namespace) -> int:
    _logging(args.verbose)
    config = config_or_exit(args.config, prepare_dirs=True)
    try:
        agent = Agent(config, until_eof=args.until_eof)
        agent.drain_timeout = args.drain_timeout
        attach_systemd(agent)  # READY/WATCHDOG/STOPPING under systemd; no-op elsewhere
        # The grid and home links load paho and the signer: only when configured (RAM on a Pi).
        if config.grid is not None:  # without a grid operator nothing is released
            from edge.release import attach_release

            attach_release(agent)
        attach_meter_peaks(agent)  # the meter's own peaks, for `peaks` (whatever is configured)
        if config.local is not None:  # the customer's own broker, apart from the grid link
            from edge.local import attach_local

            attach_local(agent)
        return agent.run()
    except (ConfigError, EdgeError) as exc:
        fail(str(exc))


def run_replay(args: argparse.Namespace) -> int:
    _logging(args.verbose)
    if sys.stderr.isatty() and not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)  # the progress bar tells the story
    config = config_or_exit(args.config, prepare_dirs=True)
    if args.ap not in {p.ean for p in config.points}:
        fail(f"--ap {args.ap} is not an allocation point of {args.config}")
    for capture in args.captures:
        if not Path(capture.removeprefix("file:")).is_file():
            fail(f"cannot read the capture {capture}")
    try:
        agent = Agent(config, until_eof=True, sources=capture_sources(args.ap, args.captures))
        if args.start is not None:
            step = interval_for(str(config.point(args.ap).dialect))
            agent.ingestor.place_untimed(args.ap, int(args.start.timestamp()), step)
        attach_meter_peaks(agent)  # the meter's own peaks are history too
        bar = ProgressBar.for_files([c.removeprefix("file:") for c in args.captures])
        if bar is not None:
            agent.hooks.on_tick.append(lambda _now: bar.update(agent.bytes_read()))
            agent.hooks.on_stop.append(bar.close)
        code = agent.run()
    except (ConfigError, EdgeError) as exc:
        fail(str(exc))
    counters = agent.ingestor.counters[args.ap]
    if counters.untimed:  # a replay has no gateway clock: never a silent, empty success
        print(
            f"edge-agent replay: {counters.untimed} telegrams carry no time (DSMR 2.2/3) and "
            "were not placed; give --start (the capture's first telegram, e.g. "
            "2026-03-28T00:00:00+01:00) to place them at the dialect's interval",
            file=sys.stderr,
        )
        if counters.untimed >= counters.readings:  # a timeless capture, not a garbled time
            return code or 1
    return code


def _instant(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant: {text!r}") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the UTC offset: {text!r} (e.g. +01:00)")
    return when
