"""The store going away under a running collector: it exits 3 and acknowledges nothing it did
not commit; started again (same client id) once the store is back, the block is stored."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.grid.store import open_store
from tests.grid.fleet_blocks import fleet, publish
from tests.support.mosquitto import Broker, mosquitto_fixture
from tests.support.postgres import SKIP_REASON, postgres_bindir, running_postgres

broker = mosquitto_fixture()
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _count(url: str) -> int:
    try:
        with open_store(url) as store:
            return store.count()
    except Exception:  # the server may still be starting
        return -1


def test_a_store_failure_loses_nothing(broker: Broker, tmp_path: Path) -> None:
    if postgres_bindir() is None:
        pytest.skip(SKIP_REASON)
    blocks = fleet(3, 2, tmp_path / "keys")
    err = tmp_path / "collector.err"

    def start(url: str) -> subprocess.Popen[bytes]:
        with err.open("ab") as stderr:
            return subprocess.Popen(
                [sys.executable, "-m", "edge", "grid", "collect", "--broker", broker.url,
                 "--pubkeys", str(tmp_path / "keys"), "--store", url, "--client-id",
                 f"failure-{tmp_path.name}", "-q"],
                stdout=subprocess.DEVNULL, stderr=stderr, cwd=ROOT,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
            )  # fmt: skip

    with running_postgres() as server:
        url = server.new_database()
        collector = start(url)
        try:
            _wait(lambda: "subscribed to" in err.read_text(), "the subscription")
            publish(broker.settings(), blocks[:3])
            _wait(lambda: _count(url) == 3, "the first day stored")
            server.stop()
            publish(broker.settings(), blocks[3:])  # the broker has them; the store is gone
            assert collector.wait(TIMEOUT) == 3
            assert "the store failed" in err.read_text()
            server.start()
            assert _count(url) == 3
            collector = start(url)  # the same session: what was not acknowledged comes again
            _wait(lambda: _count(url) == 6, "the second day stored after the restart")
        finally:
            collector.kill()
            collector.wait()
