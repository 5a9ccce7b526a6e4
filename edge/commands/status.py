"""`edge-agent status`: the one status model (edge.status) as a table or JSON.

Read-only: the database is opened read-only and nothing is created. Exit code for scripts and
monitoring: 0 running without alarms, 1 running with an alarm up, 3 not running (as
`systemctl status`), 2 configuration or database unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Final

from edge import status as model
from edge.commands.common import add_config_argument, config_or_exit
from edge.config import Config
from edge.errors import StoreError
from edge.policy import point_status
from edge.registers import iso_utc
from edge.store import connect
from edge.store.outbox import Outbox
from edge.store.policy import load_state
from edge.store.registers import last_boundary

EXIT_ALARM: Final = 1
EXIT_NOT_RUNNING: Final = 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show the agent's sources, links, points and alarms",
        description="Exit code: 0 running and no alarm, 1 an alarm is up, 3 not running.",
    )
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def collect(config_path: str | None) -> dict[str, Any]:
    """The running agent's model, completed from the database (also when it is stopped)."""
    config = config_or_exit(config_path)
    snapshot = model.read_latest(config.gateway.data_dir, config.gateway.id) or {
        "gateway": config.gateway.id,
        "sources": [],
        "alarms": [],
    }
    snapshot["running"] = model.agent_running(snapshot)
    _complete(snapshot, config)
    return snapshot


def _complete(snapshot: dict[str, Any], config: Config) -> None:
    points = snapshot.setdefault("points", {})
    try:
        conn = connect(config.gateway.data_dir, readonly=True)
    except StoreError as exc:
        snapshot["database"] = str(exc)
        conn = None
    try:
        policy = point_status(load_state(conn), config.policy) if conn is not None else {}
        outbox = Outbox(conn) if conn is not None else None
        for point in config.points:
            entry = points.setdefault(point.ean, {"role": str(point.role), "name": point.name})
            entry.update(policy.get(point.ean, {}))
            entry["outbox_depth"] = len(outbox.entries(point.ean)) if outbox is not None else None
            entry.setdefault("alarms", [])
            last = last_boundary(conn, point.ean) if conn is not None else None
            entry["last_boundary_utc"] = iso_utc(last) if last is not None else None
    finally:
        if conn is not None:
            conn.close()


def exit_code(snapshot: dict[str, Any]) -> int:
    if not snapshot.get("running"):
        return EXIT_NOT_RUNNING
    point_alarms = any(p.get("alarms") for p in snapshot.get("points", {}).values())
    return EXIT_ALARM if snapshot.get("alarms") or point_alarms else 0


def run(args: argparse.Namespace) -> int:
    snapshot = collect(args.config)
    if args.json:
        json.dump(snapshot, sys.stdout, indent=1)
        print()
    else:
        print(render(snapshot))
    return exit_code(snapshot)


def render(s: dict[str, Any]) -> str:
    state = "running" if s.get("running") else "NOT RUNNING (last status shown)"
    clock = "" if s.get("clock_trusted", True) else "  CLOCK NOT SYNCHRONISED"
    lines = [f"gateway {s.get('gateway')}  version {s.get('version', '?')}  {state}{clock}"]
    lines.append(f"as of {_as_of(s.get('written_utc'))} (counts and states of that moment)")
    if s.get("database"):
        lines.append(f"database: {s['database']}")
    alarms = s.get("alarms", [])
    lines += ["", "alarms:" if alarms else "alarms: none"]
    lines += [f"  {a.get('alarm')}: {a.get('error', '')}" for a in alarms]
    for name, link in sorted(s.get("links", {}).items()):
        error = f"  ({link['last_error']})" if link.get("last_error") else ""
        lines.append(f"{name} broker {link.get('broker', '?')}: {link.get('state', '?')}{error}")
        if link.get("note"):
            lines.append(f"  note: {link['note']}")
    lines.append("")
    for src in s.get("sources", []):
        age = model.age_s(src.get("last_received_utc") or src.get("last_telegram_utc"))
        age_text = f"{age:.0f} s ago" if age is not None else "never"
        lines.append(
            f"source {src['name']}  {src['state']}  port {src['port']}  line {src.get('line')}"
            f"  dialect {src.get('dialect', '?')}"
        )
        lines.append(
            f"  last telegram {age_text}, {src.get('telegrams', 0)} telegrams,"
            f" {src.get('crc_errors', 0)} CRC errors, {src.get('reconnects', 0)} reconnects"
            + (f", last error: {src['last_error']}" if src.get("last_error") else "")
        )
    lines += [
        "",
        f"{'allocation point':<20} {'role':<10} {'meter':<18} {'regime':<13} {'opt-out':<8}"
        f" {'last released':<14} {'outbox':>6}  alarms",
    ]
    for ean, p in s.get("points", {}).items():
        lines.append(
            f"{ean:<20} {p.get('role', ''):<10} {p.get('meter') or '-':<18}"
            f" {p.get('regime') or '-':<13} {'yes' if p.get('consent') == 'opted-out' else 'no':<8}"
            f" {p.get('last_release_day') or '-':<14} {p.get('outbox_depth') or 0:>6}"
            f"  {', '.join(map(str, p.get('alarms', []))) or '-'}"
        )
    return "\n".join(lines)


def _as_of(written_utc: object) -> str:
    """When the shown status was written, in local time, and how long ago."""
    age = model.age_s(written_utc if isinstance(written_utc, str) else None)
    if age is None:
        return "unknown (no status written yet)"
    moment = time.localtime(time.time() - age)
    return f"{time.strftime('%H:%M:%S', moment)}, {max(0.0, age):.0f} s ago"
