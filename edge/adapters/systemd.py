"""systemd's notification protocol (`sd_notify`) without libsystemd, and its agent wiring.

Strategy: the protocol is one datagram of `KEY=value` lines to the AF_UNIX socket named by
`NOTIFY_SOCKET` (a leading '@' means the abstract namespace). Not running under systemd is
normal (tests, demos, a shell): every call then returns False and does nothing. The watchdog is
fed from the agent's main-loop tick, never from a thread of its own: a hung main loop must
stop the pings so that systemd kills and restarts the agent (`WatchdogSec=` in the unit).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from edge.agent import Agent

LOG: Final = logging.getLogger("edge.systemd")
STATUS_EVERY_S: Final = 30.0  # `systemctl status` shows it; no need to refresh it every second


def _address(env: Mapping[str, str]) -> str | None:
    path = env.get("NOTIFY_SOCKET", "")
    if not path or path[0] not in "/@":  # systemd only ever hands out these two forms
        return None
    return "\0" + path[1:] if path[0] == "@" else path


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send `message` (newline-separated ``KEY=value`` lines) to systemd.

    Returns False when not running under systemd (no usable `NOTIFY_SOCKET`) or when the
    socket refuses the datagram; the agent goes on either way.
    """
    address = _address(os.environ if env is None else env)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), address)
    except OSError as exc:
        LOG.debug("sd_notify %r: %s", message, exc)
        return False
    return True


def ready(env: Mapping[str, str] | None = None) -> bool:
    """``READY=1``: start-up is complete (a `Type=notify` unit becomes active)."""
    return notify("READY=1", env)


def watchdog(env: Mapping[str, str] | None = None) -> bool:
    """``WATCHDOG=1``: still alive; resets systemd's `WatchdogSec` timer."""
    return notify("WATCHDOG=1", env)


def stopping(env: Mapping[str, str] | None = None) -> bool:
    """``STOPPING=1``: shutting down on purpose (no watchdog kill while it drains)."""
    return notify("STOPPING=1", env)


def status(text: str, env: Mapping[str, str] | None = None) -> bool:
    """``STATUS=text``: one line shown by `systemctl status`."""
    return notify("STATUS=" + " ".join(text.split()), env)  # a newline would end the value


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """systemd's watchdog timeout in seconds, or None when it does not watch this process.

    `WATCHDOG_PID`, when set, names the process meant; a child that inherited the variables
    must not ping on its parent's behalf.
    """
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 1_000_000


class SystemdNotifier:
    """Tells systemd how the agent is doing, driven by the agent's main-loop tick."""

    def __init__(
        self,
        summary: Callable[[], str],
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        self.summary = summary
        self.clock = clock
        interval = watchdog_interval(self.env)
        # half the timeout, as sd_watchdog_enabled(3) advises: one late tick is not a kill
        self.ping_every = interval / 2 if interval else None
        self.is_ready = False
        self._next_ping = 0.0
        self._next_status = 0.0

    def tick(self, _now: int = 0) -> None:
        """The agent's `on_tick` hook: READY once, then WATCHDOG and STATUS when they are due."""
        moment = self.clock()
        if not self.is_ready:
            # the first tick runs after the sources have started: that is "ready"
            self.is_ready = ready(self.env)
        if self.ping_every is not None and moment >= self._next_ping:
            watchdog(self.env)
            self._next_ping = moment + self.ping_every
        if moment >= self._next_status:
            status(self.summary(), self.env)
            self._next_status = moment + STATUS_EVERY_S

    def stop(self) -> None:
        """The agent's `on_stop` hook."""
        stopping(self.env)


def source_summary(agent: Agent) -> str:
    """A one-line status: sources connected, telegrams and CRC errors so far."""
    workers = [w.status() for ws in agent.sources.values() for w in ws]
    connected = sum(1 for s in workers if s.state == "connected" or s.eof)
    telegrams = sum(s.telegrams for s in workers)
    crc = sum(s.crc_errors for s in workers)
    return (
        f"{agent.config.gateway.id}: {connected}/{len(workers)} sources up, "
        f"{telegrams} telegrams, {crc} CRC errors"
    )


def attach_systemd(agent: Agent) -> SystemdNotifier | None:
    """Report readiness, watchdog pings and status of `agent` to systemd, if it runs us.

    Returns None (and attaches nothing) outside systemd.
    """
    if _address(os.environ) is None:
        return None
    notifier = SystemdNotifier(lambda: source_summary(agent))
    agent.hooks.on_tick.append(notifier.tick)
    # first in line: systemd should know the stop is deliberate before the outbox drains
    agent.hooks.on_stop.insert(0, notifier.stop)
    if notifier.ping_every is not None:
        LOG.info("systemd watchdog: pinging every %.1f s", notifier.ping_every)
    return notifier
