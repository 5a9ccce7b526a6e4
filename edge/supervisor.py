"""Supervision: every worker thread runs under `supervise`, every failure becomes an alarm.

Strategy: one `Health` object per agent is the board that worker threads (sources, the grid
link, the local link) and the main loop write to, and that the status model reads: alarms (a
failure that is up now), component states (e.g. the grid broker's connection) and, once, a
fatal reason. `supervise` runs a thread's body, and when it raises it records the alarm, backs
off (doubling, capped) and runs it again; a body that keeps failing for `give_up_s` without
getting anywhere marks the process fatal, and the agent then stops with a non-zero exit so
that systemd restarts it. A thread therefore never dies silently, and the status never says
"fine" while it is down. Alarms are logged once when raised or changed and once when cleared,
not per retry (the journal on an SD card).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

LOG: Final = logging.getLogger("edge.supervisor")


@dataclass(frozen=True, slots=True)
class Alarm:
    """A failure that is up now: `key` names what failed, `text` says how."""

    key: str
    text: str
    since_utc: float

    def to_json(self) -> dict[str, Any]:
        return {"alarm": self.key, "error": self.text, "since_utc": _iso(self.since_utc)}


class Health:
    """The process's alarms and component states (thread-safe; see the module text)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._alarms: dict[str, Alarm] = {}
        self._states: dict[str, dict[str, Any]] = {}
        self._version = 0
        self.fatal: str | None = None
        self.fatal_event = threading.Event()
        self.listeners: list[Callable[[], None]] = []  # called (any thread) after a change

    @property
    def version(self) -> int:
        """Grows with every change of alarms or states (the status is rewritten on change)."""
        return self._version

    def alarm(self, key: str, text: str) -> None:
        """Raise (or update) the alarm `key`."""
        with self._lock:
            old = self._alarms.get(key)
            if old is not None and old.text == text:
                return
            self._alarms[key] = Alarm(key, text, old.since_utc if old else time.time())
            self._version += 1
        LOG.warning("alarm %s: %s", key, text)
        self._changed()

    def clear(self, key: str) -> None:
        """Clear the alarm `key` (no-op if it is not up)."""
        with self._lock:
            if self._alarms.pop(key, None) is None:
                return
            self._version += 1
        LOG.info("alarm %s cleared", key)
        self._changed()

    def alarms(self) -> list[Alarm]:
        with self._lock:
            return list(self._alarms.values())

    def set_state(self, component: str, state: dict[str, Any]) -> None:
        """Publish a component's state (e.g. `grid`: connected / backoff / refused)."""
        with self._lock:
            if self._states.get(component) == state:
                return
            self._states[component] = dict(state)
            self._version += 1
        self._changed()

    def states(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: dict(state) for name, state in self._states.items()}

    def die(self, reason: str) -> None:
        """This process cannot go on: the agent stops with a non-zero exit (systemd restarts)."""
        with self._lock:
            if self.fatal is None:
                self.fatal = reason
        LOG.error("cannot go on: %s", reason)
        self.fatal_event.set()
        self._changed()

    def _changed(self) -> None:
        for listener in list(self.listeners):
            listener()


def supervise(
    name: str,
    body: Callable[[], None],
    health: Health,
    stop: threading.Event,
    *,
    backoff_min: float = 1.0,
    backoff_max: float = 60.0,
    give_up_s: float = 600.0,
    retry: bool = True,
) -> None:
    """Run `body` until it returns or `stop` is set, retrying after failures (module text).

    A run that lasted longer than `backoff_max` counts as progress: the failure clock and the
    backoff start again. The body clears the alarm `name` itself once it works again (it knows
    when it does); a clean return clears it too. `retry=False`: the first failure is fatal (a
    capture file cannot be read again from where it broke).
    """
    delay = backoff_min
    failing_since: float | None = None
    while not stop.is_set():
        started = time.monotonic()
        try:
            body()
        except Exception as exc:
            now = time.monotonic()
            text = f"{type(exc).__name__}: {exc}"
            if now - started > backoff_max:
                failing_since, delay = None, backoff_min
            failing_since = failing_since if failing_since is not None else started
            if not retry or now - failing_since >= give_up_s:
                LOG.error("%s failed for good", name, exc_info=exc)
                health.alarm(name, text)
                health.die(f"{name}: {text}")
                return
            if name not in {a.key for a in health.alarms()}:
                LOG.error("%s failed; retrying with backoff", name, exc_info=exc)
            health.alarm(name, text)
            stop.wait(delay)
            delay = min(delay * 2, backoff_max)
            continue
        health.clear(name)
        return


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
