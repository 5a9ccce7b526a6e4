"""`edge-agent consent` (the customer's opt-out) and `edge-agent log` (the consumer log)."""

from __future__ import annotations

import argparse
import json
import sqlite3
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from edge.commands.common import add_config_argument, config_or_exit, fail, open_store_or_exit
from edge.config import Config
from edge.config.model import Clock
from edge.policy import point_status, render_log
from edge.release.consent import change_consent
from edge.store.policy import load_state, read_log
from edge.store.registers import load_checkpoints


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    consent = subparsers.add_parser(
        "consent",
        help="opt an allocation point out of (or back into) the grid operator's readout",
        description="An opt-out takes effect at once: undelivered blocks of the point are "
        "deleted, and days recorded while opted out are never released.",
    )
    add_config_argument(consent)
    consent.add_argument("--ap", required=True, metavar="EAN")
    consent.add_argument("action", choices=("opt-out", "opt-in", "show"))
    consent.set_defaults(func=run_consent)

    log = subparsers.add_parser("log", help="show the consumer log: releases, refusals, consent")
    add_config_argument(log)
    log.add_argument("--ap", metavar="EAN", help="only this allocation point")
    log.add_argument("--json", action="store_true", help="one JSON object per line")
    log.set_defaults(func=run_log)


def run_consent(args: argparse.Namespace) -> int:
    config = config_or_exit(args.config)
    if args.ap not in {p.ean for p in config.points}:
        fail(f"--ap {args.ap} is not an allocation point of {args.config}")
    conn = open_store_or_exit(config)
    if args.action == "show":
        state = load_state(conn)
        shown = point_status(state, config.policy)[args.ap]
        history = state.point(args.ap).consent
        last = history[-1] if history else None
        who = {"set_by": last.by if last else None, "set_at": last.at.isoformat() if last else None}
        print(json.dumps({"ap": args.ap, **shown, **who}))
        return 0
    result = change_consent(
        conn, config.policy, args.ap, args.action, by="customer", now=agent_now(config, conn)
    )
    print(f"{args.ap} {result.message}")
    return 0


def agent_now(config: Config, conn: sqlite3.Connection) -> datetime:
    """The agent's "now": the clock, or in meter time the newest reading the store knows."""
    if config.gateway.clock is Clock.METER:
        times = [state.get("last_t") for state in load_checkpoints(conn).values()]
        known = [t for t in times if t is not None]
        if known:
            return datetime.fromtimestamp(max(known), UTC)
    return datetime.now(UTC)


def run_log(args: argparse.Namespace) -> int:
    config = config_or_exit(args.config)
    conn = open_store_or_exit(config, readonly=True)
    entries = read_log(conn, args.ap)
    if args.json:
        for entry in entries:
            print(json.dumps(entry.to_json()))
        return 0
    text = render_log(entries, ZoneInfo(config.gateway.timezone))
    print(text if text else "(the log is empty)")
    return 0
