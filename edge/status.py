"""The agent's status: a JSON snapshot in the data directory, for `edge-agent status`.

The agent rewrites it atomically (temporary file + rename) every few seconds, so a reader never
sees half a file and the status command needs no connection to the running process.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from edge import __version__

if TYPE_CHECKING:
    from edge.agent import Agent

STATUS_FILE: Final = "status.json"


def snapshot(agent: Agent) -> dict[str, Any]:
    """The status as plain data: sources, allocation points, extra sections from hooks."""
    sources = []
    mono, wall = time.monotonic(), time.time()
    for workers in agent.sources.values():
        for worker in workers:
            st = worker.status()
            received = st.last_received_monotonic
            sources.append(
                {
                    "name": st.name,
                    "port": st.url,
                    "state": st.state,
                    "dialect": str(agent.config.point(st.name).dialect),
                    "line": st.line,
                    "telegrams": st.telegrams,
                    "crc_errors": st.crc_errors,
                    "errors": st.errors,
                    "reconnects": st.reconnects,
                    "skipped_bytes": st.skipped_bytes,
                    "last_telegram_utc": _iso(st.last_meter_time),
                    "last_received_utc": _iso_epoch(wall - (mono - received)) if received else None,
                    "last_error": st.last_error,
                }
            )
    points = {}
    for point in agent.config.points:
        counters = agent.ingestor.counters[point.ean]
        engine = agent.ingestor.engines[point.ean]
        points[point.ean] = {
            "role": str(point.role),
            "name": point.name,
            "meter": counters.meter,
            "readings": counters.readings,
            "rejected_time": counters.rejected_time,  # implausible meter times (SPEC §4)
            "last_reading_utc": _iso_epoch(counters.last_meter_time),
            "pending_boundary_utc": _iso_epoch(engine.pending),
        }
    return {
        "gateway": agent.config.gateway.id,
        "version": __version__,
        "pid": os.getpid(),
        "written_utc": _iso_epoch(wall),
        "running": not agent.stopped,
        "now_utc": _iso_epoch(agent.now or None),
        "sources": sources,
        "points": points,
        **{name: part() for name, part in agent.status_parts.items()},
    }


def write(data_dir: Path, status: dict[str, Any]) -> None:
    target = data_dir / STATUS_FILE
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(status, indent=1))
    os.replace(temporary, target)


def read(data_dir: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((data_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _iso_epoch(epoch: float | None) -> str | None:
    return _iso(datetime.fromtimestamp(epoch, UTC)) if epoch is not None else None
