"""Kind to the SD card: the meters' closures of one quarter-hour boundary go to the database in
one commit, not one per meter; a silent meter holds the others back only `gather_s`.

The agent runs in-process on real pseudo-terminals, one per meter; the test writes each
meter's telegrams itself, so it decides which meter has reached the boundary. The database's
statements are traced to see which closures each transaction held.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.config import load_config
from firmware_sim.api import render
from tests.integration.helpers import PRIMARY, SECONDARY_EV, SECONDARY_PV, write_config

BOUNDARY = "2026-06-01T12:00:00+02:00"
BOUNDARY_UTC = 1_780_308_000
BEFORE = 10  # telegrams before the boundary
WAIT_S = 60.0


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Meters:
    """Three simulated DSMR 5 meters, each on a pty of its own, written by the test."""

    def __init__(self) -> None:
        self.aps = [PRIMARY, SECONDARY_EV, SECONDARY_PV]
        self.masters: dict[str, int] = {}
        self.paths: dict[str, str] = {}
        self.telegrams: dict[str, list[bytes]] = {}
        self.slaves: list[int] = []  # kept open: the pty stays up while the agent reopens it
        for n, ap in enumerate(self.aps):
            master, slave = os.openpty()
            self.masters[ap] = master
            self.paths[ap] = os.ttyname(slave)
            self.slaves.append(slave)
            out = render("dsmr5", start="2026-06-01T11:59:50+02:00", duration="40s", seed=n + 1)
            self.telegrams[ap] = out.telegrams
        self.sent = dict.fromkeys(self.aps, 0)

    def send(self, ap: str, until: int) -> None:
        """Write `ap`'s telegrams up to index `until` (exclusive)."""
        for telegram in self.telegrams[ap][self.sent[ap] : until]:
            os.write(self.masters[ap], telegram)
        self.sent[ap] = max(self.sent[ap], until)

    def resend(self, ap: str, index: int) -> None:
        os.write(self.masters[ap], self.telegrams[ap][index])

    def close(self) -> None:
        for fd in [*self.masters.values(), *self.slaves]:
            os.close(fd)


@pytest.fixture
def meters() -> Iterator[Meters]:
    m = Meters()
    yield m
    m.close()


@pytest.fixture
def running(tmp_path: Path, meters: Meters) -> Iterator[tuple[Agent, list[str]]]:
    points = [
        (PRIMARY, "primary", meters.paths[PRIMARY], "dsmr5"),
        (SECONDARY_EV, "secondary", meters.paths[SECONDARY_EV], "dsmr5"),
        (SECONDARY_PV, "secondary", meters.paths[SECONDARY_PV], "dsmr5"),
    ]
    agent = Agent(load_config(write_config(tmp_path, points)))
    agent.gather_s = WAIT_S  # long: only the meters' closures may end the wait here
    statements: list[str] = []
    agent.conn.set_trace_callback(statements.append)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    yield agent, statements
    agent.stop_event.set()
    thread.join(30)
    assert not thread.is_alive()


def _transactions(statements: list[str]) -> list[list[str]]:
    """The statements of each committed transaction, in order."""
    out: list[list[str]] = []
    current: list[str] | None = None
    for statement in list(statements):
        if statement.startswith("BEGIN"):
            current = []
        elif statement.startswith("COMMIT") and current is not None:
            out.append(current)
            current = None
        elif current is not None:
            current.append(statement)
    return out


def _boundary_inserts(transaction: list[str], utc: int) -> set[str]:
    """The points whose boundary `utc` this transaction inserted."""
    inserts = [s for s in transaction if s.startswith("INSERT OR IGNORE INTO boundary")]
    return {ap for ap in (PRIMARY, SECONDARY_EV, SECONDARY_PV) for s in inserts
            if f"'{ap}', {utc}," in s}  # fmt: skip


def _reached(agent: Agent, ap: str, index: int) -> bool:
    engine = agent.ingestor.engines[ap]
    return engine.last_reading_time == BOUNDARY_UTC - BEFORE + index - 1


def _connected(agent: Agent, ap: str) -> bool:
    workers = agent.sources.get(ap) or []
    return bool(workers) and workers[0].status().state == "connected"


def _deliver(agent: Agent, meters: Meters, ap: str, until: int) -> None:
    """Send `ap`'s telegrams up to `until` and wait until the agent has read them. A port the
    source reopens (after 3 s of silence) drops what waited in it: the last telegram is sent
    again until it arrives (a repeated reading is ignored, never counted twice)."""
    _wait_for(lambda: _connected(agent, ap), f"{ap}'s port")
    meters.send(ap, until)
    deadline = time.monotonic() + WAIT_S
    while not _reached(agent, ap, until):
        assert time.monotonic() < deadline, f"timed out waiting for {ap} to read {until}"
        time.sleep(0.05)
        if not _reached(agent, ap, until):
            meters.resend(ap, until - 1)


def test_the_meters_closures_of_a_boundary_commit_together(
    meters: Meters, running: tuple[Agent, list[str]]
) -> None:
    agent, statements = running
    for ap in meters.aps:  # everything before the boundary, read by the agent
        _deliver(agent, meters, ap, BEFORE)
    first, second, third = meters.aps
    _deliver(agent, meters, first, BEFORE + 2)  # two meters reach the boundary …
    _deliver(agent, meters, second, BEFORE + 2)
    assert not any(_boundary_inserts(t, BOUNDARY_UTC) for t in _transactions(statements))
    _deliver(agent, meters, third, BEFORE + 2)  # … and the third one's closure ends the wait
    _wait_for(
        lambda: any(_boundary_inserts(t, BOUNDARY_UTC) for t in _transactions(statements)),
        "the boundary's commit",
    )
    committed = [_boundary_inserts(t, BOUNDARY_UTC) for t in _transactions(statements)]
    assert [c for c in committed if c] == [{first, second, third}]  # one commit, all three


def test_a_silent_meter_holds_the_others_back_only_for_the_gathering_time(
    meters: Meters, running: tuple[Agent, list[str]]
) -> None:
    agent, statements = running
    for ap in meters.aps:
        _deliver(agent, meters, ap, BEFORE)
    agent.gather_s = 0.5  # the third meter stays silent
    first, second, third = meters.aps
    _deliver(agent, meters, first, BEFORE + 2)
    _deliver(agent, meters, second, BEFORE + 2)
    _wait_for(
        lambda: any(_boundary_inserts(t, BOUNDARY_UTC) for t in _transactions(statements)),
        "the others' commit after the gathering time",
    )
    committed = [_boundary_inserts(t, BOUNDARY_UTC) for t in _transactions(statements)]
    assert [c for c in committed if c] == [{first, second}]
    assert third not in set().union(*committed)
