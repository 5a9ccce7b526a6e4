"""`firmware-sim run | scenario | replay` (also `python -m firmware_sim`)."""

from __future__ import annotations

import argparse
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from firmware_sim import __version__
from firmware_sim import scenario as scenario_module
from firmware_sim.config import DEFAULT_START, Options, build
from firmware_sim.faults import LINE_FAULTS, TIMED
from firmware_sim.meter import DIALECT_INTERVAL
from firmware_sim.ports import Pacer, make_port, parse_speed
from firmware_sim.profiles import PROFILES
from firmware_sim.replay import replay_items
from firmware_sim.runner import announcer, pump
from firmware_sim.scenario import parse_scenario
from firmware_sim.simulate import TruthRow
from firmware_sim.stream import meter_items
from firmware_sim.truth import TruthWriter

FAULTS_HELP = (
    "comma-separated line faults as per-telegram probabilities ("
    + ", ".join(LINE_FAULTS)
    + ", e.g. crc:0.01) and timed events KIND:LENGTH@HH:MM ("
    + ", ".join(TIMED)
    + ", e.g. silence:5m@12:00) (default: none)"
)
SCENARIO_FORMAT = "The scenario file (TOML):\n\n" + textwrap.dedent(
    scenario_module.__doc__.split("Scenario file (TOML):\n", 1)[1].split("\nPhysics:")[0]
    if scenario_module.__doc__
    else ""
)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Every option shows its default; epilogs keep their layout (the scenario format).

    An option without a value by default says in its own help what happens then."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        empty = default is None or default is False or default in ("", argparse.SUPPRESS)
        if "(default" in text or empty or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="firmware-sim",
        description="A DSMR smart meter in software.",
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate one meter", formatter_class=_Formatter)
    run.add_argument(
        "--dialect", choices=sorted(DIALECT_INTERVAL), default="dsmr5", help="what the meter speaks"
    )
    run.add_argument(
        "--start", default=DEFAULT_START, help="first telegram's time, ISO-8601 with offset"
    )
    run.add_argument("--duration", default="1d", help="how long, e.g. 2d, 36h, 90m")
    run.add_argument("--seed", type=int, default=0, help="random seed of load and faults")
    run.add_argument("--profile", choices=PROFILES, default="household", help="the load measured")
    run.add_argument(
        "--interval", type=int, help="seconds between telegrams (default: the dialect's, 1 or 10)"
    )
    run.add_argument(
        "--meter-id", help="equipment identifier, ASCII, sent as hex (default: from the seed)"
    )
    run.add_argument(
        "--gas", action="store_true", help="an M-Bus gas meter on channel 1 (default: none)"
    )
    run.add_argument(
        "--key", help="AES-128 key, 32 hex digits: smarty, sagemcom (default: not encrypted)"
    )
    run.add_argument("--auth-key", help="authentication key, 32 hex digits (default: none)")
    run.add_argument("--faults", default="", help=FAULTS_HELP)
    run.add_argument("--tz", help="legal time zone (default: the dialect's country)")
    run.add_argument("--drift-ppm", type=float, default=0.0, help="meter clock drift, ppm")
    run.add_argument("--clock-offset", type=float, default=0.0, help="meter clock offset, s")
    _common(run)
    scen = sub.add_parser(
        "scenario",
        help="a primary and up to five secondary meters",
        description="Plays the meters of one grid connection described in FILE, each on its "
        "own port; the primary measures its own load plus every secondary's.",
        epilog=SCENARIO_FORMAT,
        formatter_class=_Formatter,
    )
    scen.add_argument("file", type=Path, help="the scenario, TOML (format below)")
    _common(scen, port=False)
    rep = sub.add_parser("replay", help="play a captured byte stream", formatter_class=_Formatter)
    rep.add_argument("capture", type=Path, help="capture file: raw P1 bytes as a meter sent them")
    rep.add_argument("--interval", type=int, default=10, help="seconds between unstamped telegrams")
    _common(rep, truth=False)
    return p


def _common(p: argparse.ArgumentParser, port: bool = True, truth: bool = True) -> None:
    p.add_argument("--speed", default="max", help="1 (real time), 60, ... or max (no pacing)")
    if port:
        p.add_argument(
            "--port",
            default="stdout",
            help="where to send: pty, pty:LINK, file:PATH, tcp:PORT, stdout",
        )
    if truth:
        p.add_argument("--truth", type=Path, help="ground-truth CSV to write (default: none)")


def _truth_sink(path: Path | None) -> tuple[TextIO | None, TruthWriter | None]:
    if path is None:
        return None, None
    fh = open(path, "w", encoding="ascii", newline="")  # noqa: SIM115 - closed by the caller
    return fh, TruthWriter(fh)


def cmd_run(a: argparse.Namespace) -> int:
    plan = build(
        Options(
            dialect=a.dialect, start=a.start, duration=a.duration, seed=a.seed, profile=a.profile,
            interval=a.interval, meter_id=a.meter_id, gas=a.gas, key=a.key, auth_key=a.auth_key,
            faults=a.faults, tz=a.tz, drift_ppm=a.drift_ppm, clock_offset_s=a.clock_offset,
        )
    )  # fmt: skip
    speed = parse_speed(a.speed)
    port = make_port(a.port, max_speed=speed is None)
    say = announcer()
    fh, writer = _truth_sink(a.truth)
    try:
        address = port.open()
        if address:
            say(address)
        items = meter_items(plan.spec, plan.start, plan.end, plan.faults)
        pump(items, port, Pacer(speed), say, writer.write if writer else None)
    finally:
        port.close()
        if fh:
            fh.close()
    return 0


def cmd_scenario(a: argparse.Namespace) -> int:
    scenario = parse_scenario(a.file.read_text(encoding="utf-8"))
    speed = parse_speed(a.speed)
    fh, writer = _truth_sink(a.truth)
    lock = threading.Lock()

    def on_truth(rows: tuple[TruthRow, ...]) -> None:
        if writer:
            with lock:
                writer.write(rows)

    ports = [make_port(m.port, max_speed=speed is None) for m in scenario.meters]
    threads = []
    try:
        for m, port in zip(scenario.meters, ports, strict=True):
            say = announcer(f"port {m.plan.spec.meter_id}")
            address = port.open()
            if address:
                say(address)
            items = meter_items(m.plan.spec, m.plan.start, m.plan.end, m.plan.faults)
            args = (items, port, Pacer(speed), say, on_truth)
            threads.append(threading.Thread(target=pump, args=args, daemon=True))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for port in ports:
            port.close()
        if fh:
            fh.close()
    return 0


def cmd_replay(a: argparse.Namespace) -> int:
    speed = parse_speed(a.speed)
    port = make_port(a.port, max_speed=speed is None)
    say = announcer()
    try:
        address = port.open()
        if address:
            say(address)
        pump(replay_items(a.capture.read_bytes(), a.interval), port, Pacer(speed), say)
    finally:
        port.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"run": cmd_run, "scenario": cmd_scenario, "replay": cmd_replay}[args.command]
    try:
        return handler(args)
    except ValueError as exc:
        print(f"firmware-sim: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, BrokenPipeError):
        return 130
