"""A live line through the whole agent on a real pty: its batches wait for the main loop's tick
(one wake a second for every meter), are handled within a tick, and a clean stop handles what
arrived since the last tick."""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.config import load_config
from firmware_sim.api import render
from tests.integration.helpers import PRIMARY, write_config

PATIENCE_S = 20.0


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_live_batches_reach_the_engine_at_the_tick_and_a_stop_keeps_the_last(
    tmp_path: Path, pty: tuple[int, str]
) -> None:
    master, path = pty
    config = load_config(write_config(tmp_path, [(PRIMARY, "primary", path, "dsmr5")]))
    agent = Agent(config)
    handled: list[object] = []  # every telegram the main loop handled, via the hook it calls
    agent.hooks.on_telegrams.append(lambda _source, batch: handled.extend(batch))
    runner = threading.Thread(target=agent.run)  # not the main thread: no signal handlers
    runner.start()
    try:
        telegrams = render("dsmr5", start="2026-06-01T12:00:00+02:00", duration="5s").telegrams
        _wait_for(lambda: agent.sources and agent.sources[PRIMARY][0].status().state
                  == "connected", "the line")  # fmt: skip
        source = agent.sources[PRIMARY][0]
        for telegram in telegrams[:3]:
            os.write(master, telegram)
        _wait_for(lambda: len(handled) == 3, "three telegrams handled by the main loop")
        os.write(master, b"".join(telegrams[3:5]))
        # read, decoded and queued for the tick (or already handled): then stop at once, a
        # tick due or not — either way nothing read may be lost
        _wait_for(lambda: _queued(agent) + len(handled) == 5, "queued")
    finally:
        agent.stop_event.set()
        runner.join(PATIENCE_S)
    assert not runner.is_alive() and agent.exit_code == 0
    assert len(handled) == 5 and agent.live_queue.empty()
    status = source.status()
    assert (status.telegrams, status.errors) == (5, 0)


def _queued(agent: Agent) -> int:
    """Telegrams waiting in the live queue for the tick."""
    with agent.live_queue.mutex:  # the queue's own lock: the reader may be putting
        return sum(len(batch.events) for batch in agent.live_queue.queue)


def test_a_live_line_is_silent_only_past_its_threshold_and_then_reopened(
    tmp_path: Path, pty: tuple[int, str]
) -> None:
    # The main loop handles a line's batches up to a tick late; silence is the reader's own
    # judgement: a talking meter never looks silent, a silent one does after 3 intervals (3 s).
    master, path = pty
    config = load_config(write_config(tmp_path, [(PRIMARY, "primary", path, "dsmr5")]))
    agent = Agent(config)
    runner = threading.Thread(target=agent.run)
    runner.start()
    try:
        _wait_for(lambda: agent.sources and agent.sources[PRIMARY][0].status().state
                  == "connected", "the line")  # fmt: skip
        source = agent.sources[PRIMARY][0]
        telegrams = render("dsmr5", start="2026-06-01T12:00:00+02:00", duration="12s").telegrams
        for telegram in telegrams[:8]:  # 4 s of talk at two telegrams a second
            os.write(master, telegram)
            time.sleep(0.5)
        assert source.status().last_error is None  # never judged silent while talking
        spoke = time.monotonic()
        _wait_for(lambda: "silent" in (source.status().last_error or ""), "silence judged")
        assert time.monotonic() - spoke >= 3 - 0.6  # the last telegram is from up to 0.5 s ago
        # talking again, it is reopened and read (what is sent while the port is closed
        # between sessions is lost, as on a real line: send until a telegram arrives)
        deadline = time.monotonic() + PATIENCE_S
        for telegram in telegrams[8:] * 20:
            if source.status().telegrams > 8:
                break
            assert time.monotonic() < deadline, "never read again after the silence"
            os.write(master, telegram)
            time.sleep(0.2)
        assert source.status().telegrams > 8 and source.status().reconnects >= 1
    finally:
        agent.stop_event.set()
        runner.join(PATIENCE_S)
    assert not runner.is_alive() and agent.exit_code == 0
