"""Two collector processes on one MQTT 5 shared subscription, a real mosquitto, both stores.

A fleet of 500 gateways pushes two days each (1 000 blocks). Collector 1 is killed (SIGKILL)
after it stored part of its share and the fleet's second day is pushed while it is dead; it is
started again with the same client id (as systemd would) and its persistent session brings
what it never acknowledged. Every block must be stored exactly once, byte for byte; each
collector must have taken a share; a forged block (another gateway's key), a replay, garbage
and an oversized payload are counted rejections or a duplicate, and nobody crashes. SIGTERM
ends each collector with its summary.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_topics import day_topic
from edge.grid.store import open_store
from tests.grid.fleet_blocks import PREFIX, fleet, forged_block, gateway_id, publish
from tests.support.mosquitto import SKIP_REASON, Broker, make_broker, mosquitto_binary


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """mosquitto as a grid broker should run: no bound on a session's queue (by default it
    drops QoS 1 messages beyond 1 000 queued for a client, e.g. one that is restarting)."""
    if mosquitto_binary() is None:
        pytest.skip(SKIP_REASON)
    started = make_broker(tmp_path_factory.mktemp("mosquitto"))
    with started.config.open("a") as config:
        config.write("max_queued_messages 0\n")
    started.start()
    try:
        yield started
    finally:
        started.stop()


TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parents[2]


class CollectorProcess:
    """`edge-agent grid collect` as its own process, its output in files."""

    def __init__(self, name: str, argv: list[str], workdir: Path) -> None:
        self.name, self.argv, self.workdir = name, argv, workdir
        self.out, self.err = workdir / f"{name}.out", workdir / f"{name}.err"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        with self.out.open("ab") as out, self.err.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge", *self.argv, "--client-id", self.name],
                stdout=out, stderr=err, env=env, cwd=ROOT,
            )  # fmt: skip
        self.starts += 1
        _wait(lambda: self.text(self.err).count("subscribed to") >= self.starts,
              f"{self.name} subscribed", self)  # fmt: skip

    def text(self, path: Path) -> str:
        return path.read_text(errors="replace") if path.exists() else ""

    def stored_lines(self) -> int:
        return sum(1 for line in self.text(self.out).splitlines() if line.startswith("ok "))

    def signal(self, sig: int) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(TIMEOUT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _wait(condition: Callable[[], bool], what: str, *procs: CollectorProcess) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        for proc in procs:
            assert proc.process is None or proc.process.poll() is None, (
                f"{proc.name} died: {proc.text(proc.err)[-2000:]}"
            )
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def collectors(
    broker: Broker, store_url: str, tmp_path: Path
) -> Iterator[tuple[list[CollectorProcess], Path]]:
    keys = tmp_path / "keys"
    keys.mkdir()
    share = f"ingest-{tmp_path.name}"
    argv = ["grid", "collect", "--broker", broker.url, "--pubkeys", str(keys),
            "--store", store_url, "--share", share, "--batch", "100"]  # fmt: skip
    procs = [CollectorProcess(f"c{i}-{tmp_path.name}", argv, tmp_path) for i in range(2)]
    try:
        yield procs, keys
    finally:
        for proc in procs:
            proc.stop()


def test_two_collectors_store_a_fleet_exactly_once_and_survive_a_kill(
    broker: Broker, store_url: str, collectors: tuple[list[CollectorProcess], Path]
) -> None:
    procs, keys = collectors
    blocks = fleet(500, 2, keys)
    forged = forged_block(gateway_id(0), "871687120000000000", keys)
    day1, day2 = blocks[:500], blocks[500:]
    for proc in procs:
        proc.start()
    store = open_store(store_url)
    try:
        publish(broker.settings(), day1)
        _wait(lambda: procs[1].stored_lines() >= 20, "collector 1 storing", *procs)
        procs[1].stop()  # SIGKILL mid-run: whatever it had not acknowledged comes back
        publish(broker.settings(), day2)  # its share of these waits in its session
        procs[1].start()
        _wait(lambda: store.count() == len(blocks), "every block stored", *procs)
        with BlockingClient(broker.settings()) as hostile:
            hostile.publish(day1[0][0], forged)
            hostile.publish(day1[0][0], day1[0][1])  # a replay: same signed bytes
            hostile.publish(day_topic(PREFIX, gateway_id(1), "871687120000000001",
                                      "2026-03-01"), b"\xff garbage")  # fmt: skip
            hostile.publish(day1[1][0], b"\0" * 300_000)
            hostile.publish(day1[2][0], day1[3][1])  # a genuine block on another's topic
        _wait(lambda: store.rejected_count() == 4, "four rejections stored", *procs)
        rejected = store.rejected_for_days(["2026-03-01"])
        reasons = sorted(r.reason.split(":")[0] for r in rejected)
        assert any("not the key of gateway 'gw-00000'" in r.reason for r in rejected), reasons
        assert any("larger than a block" in r.reason for r in rejected), reasons
        assert any("topic says" in r.reason for r in rejected), reasons
        assert store.count() == len(blocks)  # exactly once, nothing else
        stored = {(gw, ap, seq): cose for gw, ap, seq, cose in store.blocks()}
        assert sorted(stored.values()) == sorted(cose for _t, cose in blocks)
    finally:
        store.close()
    assert all(proc.stored_lines() > 0 for proc in procs), "each collector takes a share"
    # a killed collector may have committed a batch without printing it: at most, not exactly
    assert sum(proc.stored_lines() for proc in procs) <= len(blocks)
    for proc in procs:
        assert proc.signal(signal.SIGTERM) == 0
    summaries = [proc.text(proc.out).splitlines()[-1] for proc in procs]
    assert all(line.startswith("collected: ") for line in summaries), summaries
    duplicates = sum(int(line.split(", ")[1].split()[0]) for line in summaries)
    assert duplicates >= 1  # the replay (and any redelivery after the kill)


@pytest.mark.slow
def test_soak_a_larger_fleet_with_repeated_kills(
    broker: Broker, store_url: str, collectors: tuple[list[CollectorProcess], Path]
) -> None:
    """5 000 gateways x 2 days; each collector killed once while the other works."""
    procs, keys = collectors
    blocks = fleet(5000, 2, keys)
    for proc in procs:
        proc.start()
    with open_store(store_url) as store:
        for victim, until in ((0, 4000), (1, 8000)):
            publish(broker.settings(), blocks[until - 4000 : until])
            goal = until - 3000
            _wait(lambda: store.count() >= goal, "storing under way", *procs)  # noqa: B023
            procs[victim].stop()
            procs[victim].start()
        publish(broker.settings(), blocks[8000:])
        deadline = time.monotonic() + 600
        while store.count() < len(blocks):
            assert time.monotonic() < deadline, f"{store.count()} of {len(blocks)} stored"
            time.sleep(0.5)
        assert store.count() == len(blocks)
        assert sorted(c for *_k, c in store.blocks()) == sorted(c for _t, c in blocks)
