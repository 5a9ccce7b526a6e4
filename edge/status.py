"""The agent's status: ONE model, built here, rendered by the CLI, status.json and MQTT.

Strategy: `snapshot(agent)` builds the model from the running agent (sources, points, links,
alarms, clock) and the extra sections hooks register (release, local). `status.json` is that
model as JSON, rewritten atomically (temporary file + rename) when it changed and at a slow
heartbeat, so `edge-agent status` needs no connection to the process; `complete()` adds what
only the database knows (also when the agent is stopped); `grid_view()` is the part of it that
may leave the house on the retained grid status (SPEC §5: of an opted-out point, nothing but
"opted-out"). Nothing else assembles a status.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from edge import __version__

if TYPE_CHECKING:
    from edge.agent import Agent
    from edge.p1 import Telegram

STATUS_FILE: Final = "status.json"
# status.json in the data dir is rewritten when something an installer looks at changed (a
# source's state, an alarm, a link), else at this heartbeat: flash wears per rewrite
STATUS_HEARTBEAT_S: Final = 60.0
# the copy in the runtime directory (RAM: systemd's RuntimeDirectory=, /run is a tmpfs) costs
# no flash, so it is rewritten this often and `edge-agent status` shows current counts
RUNTIME_EVERY_S: Final = 5.0
# status.json older than this while "running" means the agent died without saying so
STALE_S: Final = 180.0
# the retained grid status's fields per point (an interface: README's topic table, SPEC §7)
GRID_POINT_KEYS: Final = (
    "role", "regime", "consent", "last_release_day", "outbox_depth", "last_telegram_utc", "alarms",
)  # fmt: skip


def source_states(agent: Agent) -> tuple[tuple[str, str, str | None, bool, str], ...]:
    """What of the sources changes the status when it changes (not the counters): the state,
    the last error, whether a telegram has come at all, and the dialect detected."""
    states = []
    for workers in agent.sources.values():
        for worker in workers:
            st = worker.status()
            first = st.last_received_monotonic is None
            states.append(
                (st.name, st.state, st.last_error, first, detected_dialect(agent, st.name))
            )
    return tuple(states)


def snapshot(agent: Agent) -> dict[str, Any]:
    """The status as plain data (see the module text)."""
    sources = []
    mono, wall = time.monotonic(), time.time()
    for workers in agent.sources.values():
        for worker in workers:
            st = worker.status()
            received = st.last_received_monotonic
            sources.append(
                {
                    "name": st.name,
                    "port": _full_path(st.url),
                    "state": st.state,
                    "dialect": detected_dialect(agent, st.name),
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
            "meter": readable_meter_id(counters.meter),
            "meter_raw": counters.meter,
            "readings": counters.readings,
            "rejected_time": counters.rejected_time,  # implausible meter times (SPEC §4)
            "last_telegram_utc": _iso_epoch(counters.last_meter_time),
            "pending_boundary_utc": _iso_epoch(engine.pending),
        }
    health = agent.health
    model: dict[str, Any] = {
        "gateway": agent.config.gateway.id,
        "version": __version__,
        "pid": os.getpid(),
        "written_utc": _iso_epoch(wall),
        "running": not agent.stopped,
        "now_utc": _iso_epoch(agent.now or None),
        "clock": agent.config.gateway.clock.value,
        "clock_trusted": agent.clock_trusted,
        "alarms": [alarm.to_json() for alarm in health.alarms()],
        "links": health.states(),
        "sources": sources,
        "points": points,
    }
    for name, part in agent.status_parts.items():
        extra = part()
        if isinstance(extra, dict) and isinstance(extra.get("points"), dict):
            _merge_points(model["points"], extra.pop("points"))  # one entry per point
            if not extra:
                continue
        model[name] = extra
    return model


def _merge_points(points: dict[str, Any], extra: dict[str, Any]) -> None:
    """Fold a section's per-point fields into the model's points (one entry per point)."""
    for ean, fields in extra.items():
        entry = points.setdefault(ean, {})
        for key, value in fields.items():
            entry.setdefault(key, value)


def detected_dialect(agent: Agent, name: str) -> str:
    """The configured dialect, or for `auto` what the last telegram shows (P1 version)."""
    configured = str(agent.config.point(name).dialect)
    if configured != "auto":
        return configured
    telegram = agent.last_telegram.get(name)
    return dialect_of(telegram) if telegram is not None else "auto (nothing read yet)"


def dialect_of(telegram: Telegram) -> str:
    """The dialect a telegram speaks, from its P1 version line (1-3:0.2.8 / 0-0:96.1.4)."""
    version = telegram.version
    if version is None:
        return "dsmr22" if telegram.timestamp is None else "dsmr3"
    if telegram.value("0-0:96.1.4") is not None:
        return "fluvius"
    if version.startswith("5"):
        return "dsmr5"
    if version.startswith("4"):
        return "dsmr4"
    return f"dsmr (version {version})"


def readable_meter_id(meter: str | None) -> str | None:
    """The DSMR equipment id as text where it is hex-encoded ASCII (e.g. "E0044007...")."""
    if not meter or len(meter) % 2:
        return meter
    try:
        text = bytes.fromhex(meter).decode("ascii")
    except ValueError:
        return meter
    return text if text.isprintable() and text.strip() == text else meter


def _full_path(url: str) -> str:
    """A device path with its symlinks resolved as well (`/dev/p1-main -> /dev/ttyUSB0`)."""
    if url.startswith("/"):
        real = os.path.realpath(url)
        return url if real == url else f"{url} -> {real}"
    return url


def grid_point(point: Mapping[str, Any]) -> dict[str, Any]:
    """What of a point may leave on the grid status: of an opted-out one only the opt-out.

    The model says consent once (`consent`); the grid status also carries `opted_out`, derived
    here, for the consumers that read it."""
    if point.get("consent") == "opted-out":
        return {"consent": "opted-out", "opted_out": True}
    fields = {key: point[key] for key in GRID_POINT_KEYS if key in point}
    if "consent" in fields:
        fields["opted_out"] = False
    return fields


def grid_view(model: Mapping[str, Any]) -> dict[str, Any]:
    """The part of the model that goes on the retained grid status."""
    return {
        "points": {ean: grid_point(p) for ean, p in model.get("points", {}).items()},
        "clock_trusted": model.get("clock_trusted"),
        "alarms": model.get("alarms", []),
    }


def runtime_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    """systemd's `$RUNTIME_DIRECTORY` (the first, if it lists several), if it is a directory."""
    first = environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return Path(first) if first and Path(first).is_dir() else None


class StatusFiles:
    """Where status.json is written and when: the data dir's copy on change and at the
    heartbeat (flash), the runtime dir's copy (RAM), if there is one, also every few seconds.
    The data dir's copy names the runtime copy, so that `edge-agent status`, run from a shell
    without systemd's environment, finds it."""

    def __init__(self, data_dir: Path, runtime: Path | None) -> None:
        self.data_dir = data_dir
        self.runtime = runtime
        self._seen: object = None
        self._changed = True
        self._data_due = 0.0
        self._runtime_due = 0.0

    def due(self, seen: object, now: float) -> bool:
        """Note what the status shows (`seen`); True if a copy should be rewritten now."""
        if seen != self._seen:
            self._seen, self._changed = seen, True
        fresh_due = self.runtime is not None and now >= self._runtime_due
        return self._changed or now >= self._data_due or fresh_due

    def write(self, model: dict[str, Any], now: float, *, everywhere: bool = False) -> None:
        """Write the copies that are due (all with `everywhere`); `OSError` if one fails."""
        if self.runtime is not None:
            model = {**model, "runtime_copy": str(self.runtime / STATUS_FILE)}
        if everywhere or self._changed or now >= self._data_due:
            self._changed, self._data_due = False, now + STATUS_HEARTBEAT_S
            write(self.data_dir, model)
        if self.runtime is not None:
            self._runtime_due = now + RUNTIME_EVERY_S
            write(self.runtime, model)


def write(directory: Path, status: dict[str, Any]) -> None:
    """Replace status.json atomically; `OSError` if it cannot be written (the caller alarms)."""
    target = directory / STATUS_FILE
    temporary = target.with_name(f".{STATUS_FILE}.tmp")
    temporary.write_text(json.dumps(status, indent=1))
    os.replace(temporary, target)


def read(directory: Path) -> dict[str, Any] | None:
    return _read_file(directory / STATUS_FILE)


def read_latest(
    data_dir: Path, gateway: str, environ: Mapping[str, str] = os.environ
) -> dict[str, Any] | None:
    """The newest status of `gateway`: the runtime copy (named by the data dir's copy, or in
    `$RUNTIME_DIRECTORY`) when it is newer than the data dir's, else the data dir's."""
    stored = read(data_dir)
    places = [stored.get("runtime_copy") if stored else None]
    found = runtime_dir(environ)
    places.append(str(found / STATUS_FILE) if found else None)
    fresh = [_read_file(Path(p)) for p in places if isinstance(p, str) and p]
    candidates = [*fresh, stored]  # on a tie (the same second) the runtime copy
    mine = [c for c in candidates if c is not None and c.get("gateway") == gateway]
    return max(mine, key=lambda c: str(c.get("written_utc") or ""), default=stored)


def _read_file(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def agent_running(status: dict[str, Any]) -> bool:
    """The status.json says running, is fresh, and its process still exists."""
    if not status.get("running"):
        return False
    age = age_s(status.get("written_utc"))
    pid = status.get("pid")
    alive = isinstance(pid, int) and Path(f"/proc/{pid}").exists()
    return alive and age is not None and age < STALE_S


def age_s(text: str | None) -> float | None:
    if not text:
        return None
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return (datetime.now(UTC) - moment).total_seconds()


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _iso_epoch(epoch: float | None) -> str | None:
    return _iso(datetime.fromtimestamp(epoch, UTC)) if epoch is not None else None
