"""`firmware-sim run | scenario | replay` (also `python -m firmware_sim`)."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from firmware_sim.config import DEFAULT_START, Options, build
from firmware_sim.meter import DIALECT_INTERVAL
from firmware_sim.ports import Pacer, make_port, parse_speed
from firmware_sim.profiles import PROFILES
from firmware_sim.replay import replay_items
from firmware_sim.runner import announcer, pump
from firmware_sim.scenario import parse_scenario
from firmware_sim.simulate import TruthRow
from firmware_sim.stream import meter_items
from firmware_sim.truth import TruthWriter


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="firmware-sim", description="A DSMR smart meter in software.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate one meter")
    run.add_argument("--dialect", choices=sorted(DIALECT_INTERVAL), default="dsmr5")
    run.add_argument(
        "--start", default=DEFAULT_START, help="ISO-8601, e.g. 2026-03-28T00:00:00+01:00"
    )
    run.add_argument("--duration", default="1d", help="e.g. 2d, 36h, 90m")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--profile", choices=PROFILES, default="household")
    run.add_argument("--interval", type=int, help="seconds between telegrams (dialect default)")
    run.add_argument("--meter-id", help="equipment identifier (ASCII; sent as hex)")
    run.add_argument("--gas", action="store_true", help="an M-Bus gas meter on channel 1")
    run.add_argument("--key", help="AES-128 key, 32 hex digits (smarty, sagemcom)")
    run.add_argument("--auth-key", help="authentication key, 32 hex digits")
    run.add_argument("--faults", default="", help="e.g. crc:0.01,drop:0.05,silence:5m@12:00")
    run.add_argument("--tz", help="legal time zone (default per dialect)")
    run.add_argument("--drift-ppm", type=float, default=0.0, help="meter clock drift")
    run.add_argument("--clock-offset", type=float, default=0.0, help="meter clock offset, s")
    for cmd in (run,):
        _common(cmd)
    scen = sub.add_parser("scenario", help="a primary and up to five secondary meters")
    scen.add_argument("file", type=Path)
    _common(scen, port=False)
    rep = sub.add_parser("replay", help="play a captured byte stream")
    rep.add_argument("capture", type=Path)
    rep.add_argument("--interval", type=int, default=10, help="pace of unstamped captures, s")
    _common(rep, truth=False)
    return p


def _common(p: argparse.ArgumentParser, port: bool = True, truth: bool = True) -> None:
    p.add_argument("--speed", default="max", help="1 (real time), 60, ... or max")
    if port:
        p.add_argument(
            "--port", default="stdout", help="pty, pty:LINK, file:PATH, tcp:PORT, stdout"
        )
    if truth:
        p.add_argument("--truth", type=Path, help="ground-truth CSV to write")


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
