"""`edge-agent status`: per source and per allocation point, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from datetime import UTC, datetime
from typing import Any

from edge import status as status_file
from edge.commands.common import add_config_argument, config_or_exit
from edge.errors import StoreError
from edge.policy import point_status
from edge.registers import iso_utc
from edge.store import connect
from edge.store.outbox import Outbox
from edge.store.policy import load_state
from edge.store.registers import last_boundary


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("status", help="show the agent's sources and points")
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def collect(config_path: str) -> dict[str, Any]:
    """The running agent's snapshot, completed from the database (also when it is stopped)."""
    config = config_or_exit(config_path)
    data_dir = config.gateway.data_dir
    snapshot = status_file.read(data_dir) or {"gateway": config.gateway.id, "sources": []}
    points = snapshot.setdefault("points", {})
    released = snapshot.get("release", {}).get("points", {})
    try:
        conn = connect(data_dir)
    except (StoreError, sqlite3.Error):
        conn = None
    policy = point_status(load_state(conn), config.policy) if conn is not None else {}
    outbox = Outbox(conn) if conn is not None else None
    for point in config.points:
        entry = points.setdefault(point.ean, {"role": str(point.role), "name": point.name})
        entry.update(policy.get(point.ean, {}))
        entry["opted_out"] = entry.get("consent") == "opted-out"
        entry["last_released_day"] = entry.get("last_release_day")
        entry["outbox_depth"] = len(outbox.entries(point.ean)) if outbox is not None else None
        entry["alarms"] = released.get(point.ean, {}).get("alarms", [])
        last = last_boundary(conn, point.ean) if conn is not None else None
        entry["last_boundary_utc"] = iso_utc(last) if last is not None else None
    if conn is not None:
        conn.close()
    age = _age_s(snapshot.get("written_utc"))
    # A crashed agent leaves "running" behind: trust it only while the file is fresh.
    snapshot["running"] = bool(snapshot.get("running")) and age is not None and age < 30
    return snapshot


def run(args: argparse.Namespace) -> int:
    snapshot = collect(args.config)
    if args.json:
        json.dump(snapshot, sys.stdout, indent=1)
        print()
        return 0
    print(_render(snapshot))
    return 0


def _render(s: dict[str, Any]) -> str:
    state = "running" if s.get("running") else "not running (last status shown)"
    lines = [f"gateway {s.get('gateway')}  version {s.get('version', '?')}  {state}", ""]
    lines.append(
        f"{'source':<20} {'port':<28} {'dialect':<9} {'state':<10} {'last telegram':>14}"
        f" {'crc err':>8} {'reconn':>7}"
    )
    for src in s.get("sources", []):
        age = _age_s(src.get("last_received_utc") or src.get("last_telegram_utc"))
        age_text = f"{age:.0f} s ago" if age is not None else "never"
        lines.append(
            f"{src['name']:<20} {src['port'][:28]:<28} {src.get('dialect', '?'):<9}"
            f" {src['state']:<10} {age_text:>14}"
            f" {src['crc_errors']:>8} {src['reconnects']:>7}"
        )
    lines += [
        "",
        f"{'allocation point':<20} {'role':<10} {'regime':<13} {'opt-out':<8}"
        f" {'last released':<14} {'outbox':>6}  alarms",
    ]
    for ean, p in s.get("points", {}).items():
        lines.append(
            f"{ean:<20} {p.get('role', ''):<10} {p.get('regime') or '-':<13}"
            f" {'yes' if p.get('opted_out') else 'no':<8} {p.get('last_released_day') or '-':<14}"
            f" {p.get('outbox_depth') or 0:>6}  {_alarms(p.get('alarms', []))}"
        )
    return "\n".join(lines)


def _age_s(text: str | None) -> float | None:
    if not text:
        return None
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()


def _alarms(alarms: list[str]) -> str:
    return ", ".join(alarms) or "-"
