"""The store going away under a running collector: it waits, acknowledges nothing it did not
commit, and stores everything once the store is back — without exiting.

Real components: mosquitto, `edge-agent grid collect` as its own process, a PostgreSQL server
that the test restarts (fast shutdown, started again on the same port and data directory) in
the middle of a fleet's push, and an SQLite store on a small filesystem that fills up.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.grid.commit import Outage
from edge.grid.store import StoreUnavailable, failure_state, open_store
from edge.grid.store.schema import VERSION
from tests.grid.fleet_blocks import Published, fleet, publish
from tests.support.mosquitto import Broker, free_port, mosquitto_fixture
from tests.support.postgres import SKIP_REASON, postgres_bindir, running_postgres

broker = mosquitto_fixture()
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 90.0
UNAVAILABLE, BACK = "collect: store unavailable: ", "collect: store back after "


class Collector:
    """`edge-agent grid collect` in its own process, its output in files."""

    def __init__(self, broker: Broker, keys: Path, store: str, work: Path) -> None:
        self.err, self.out = work / "collector.err", work / "collector.out"
        argv = ["grid", "collect", "--broker", broker.url, "--pubkeys", str(keys), "--store",
                store, "--client-id", f"failure-{work.name}", "--batch", "50", "-q"]  # fmt: skip
        with self.out.open("ab") as out, self.err.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge", *argv], stdout=out, stderr=err, cwd=ROOT,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
            )  # fmt: skip
        self.wait_for(lambda: "subscribed to" in self.log(), "the subscription")

    def log(self) -> str:
        return self.err.read_text(errors="replace") if self.err.exists() else ""

    def lines(self, start: str) -> list[str]:
        return [line for line in self.log().splitlines() if line.startswith(start)]

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            assert self.process.poll() is None, f"the collector exited: {self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.log()}"
            time.sleep(0.1)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(TIMEOUT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _count(url: str) -> int:
    try:
        with open_store(url) as store:
            return store.count()
    except Exception:  # the server may still be starting
        return -1


def _stored(url: str) -> list[bytes]:
    with open_store(url) as store:
        return sorted(cose for *_key, cose in store.blocks())


def _publish_in_background(broker: Broker, blocks: list[Published]) -> threading.Thread:
    thread = threading.Thread(target=publish, args=(broker.settings(), blocks), daemon=True)
    thread.start()
    return thread


def test_a_postgresql_restart_mid_fleet_loses_nothing(broker: Broker, tmp_path: Path) -> None:
    if postgres_bindir() is None:
        pytest.skip(SKIP_REASON)
    blocks = fleet(300, 3, tmp_path / "keys")  # day-major: 300 blocks a day
    with running_postgres() as server:
        url = server.new_database()
        collector = Collector(broker, tmp_path / "keys", url, tmp_path)
        try:
            pushing = _publish_in_background(broker, blocks[:600])
            collector.wait_for(lambda: _count(url) >= 100, "the first blocks stored")
            server.stop()  # fast shutdown, in the middle of the push (and likely of a commit)
            pushing.join(TIMEOUT)
            publish(broker.settings(), blocks[600:])  # these arrive with the store away
            collector.wait_for(lambda: bool(collector.lines(UNAVAILABLE)), "the outage noticed")
            server.start()  # same data directory, same port
            collector.wait_for(lambda: _count(url) == len(blocks), "every block stored")
            collector.wait_for(lambda: bool(collector.lines(BACK)), "the recovery logged")
            assert collector.process.poll() is None  # it waited; it did not exit
            assert _stored(url) == sorted(cose for _topic, cose in blocks)  # each exactly once
            assert len(collector.lines(UNAVAILABLE)) == 1, collector.log()  # not one per retry
            assert "unreachable" in collector.lines(UNAVAILABLE)[0]
            assert collector.stop() == 0
            summary = collector.out.read_text().splitlines()[-1]
            assert summary.startswith("collected: "), summary
            assert "1 store outages" in collector.log()
        finally:
            collector.kill()


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a disk that really fills up (mounting needs root)."""
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs a small filesystem; mounting one needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Write zeros until the filesystem says it is full."""
    chunk = b"\0" * 16384
    with path.open("wb", buffering=0) as filler:
        try:
            while True:
                filler.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


def test_a_full_disk_loses_nothing(broker: Broker, small_filesystem: Path, tmp_path: Path) -> None:
    blocks = fleet(150, 2, tmp_path / "keys")
    url = f"sqlite:///{small_filesystem / 'grid.sqlite'}"
    collector = Collector(broker, tmp_path / "keys", url, tmp_path)
    try:
        _fill(small_filesystem / "filler")
        publish(broker.settings(), blocks)
        collector.wait_for(lambda: bool(collector.lines(UNAVAILABLE)), "the full disk noticed")
        assert "disk full" in collector.lines(UNAVAILABLE)[0], collector.log()
        (small_filesystem / "filler").unlink()  # the operator makes room
        collector.wait_for(lambda: _count(url) == len(blocks), "every block stored")
        collector.wait_for(lambda: bool(collector.lines(BACK)), "the recovery logged")
        # nothing was acknowledged before its commit: had it been, the broker would have
        # forgotten it and it would be missing now
        assert _stored(url) == sorted(cose for _topic, cose in blocks)
        assert len(collector.lines(UNAVAILABLE)) == 1, collector.log()
        assert collector.stop() == 0
    finally:
        collector.kill()


def test_a_run_stopped_while_the_store_is_away_exits_3_and_keeps_the_blocks(
    broker: Broker, small_filesystem: Path, tmp_path: Path
) -> None:
    blocks = fleet(20, 1, tmp_path / "keys")
    url = f"sqlite:///{small_filesystem / 'grid.sqlite'}"
    collector = Collector(broker, tmp_path / "keys", url, tmp_path)
    try:
        _fill(small_filesystem / "filler")
        publish(broker.settings(), blocks)
        collector.wait_for(lambda: bool(collector.lines(UNAVAILABLE)), "the full disk noticed")
        assert collector.stop() == 3
        assert "received blocks not committed (left with the broker)" in collector.log()
        (small_filesystem / "filler").unlink()
        again = Collector(broker, tmp_path / "keys", url, tmp_path)  # the same session
        try:
            again.wait_for(lambda: _count(url) == len(blocks), "the held blocks stored")
        finally:
            again.kill()
    finally:
        collector.kill()


def test_a_store_schema_newer_than_the_program_is_refused_at_start(
    broker: Broker, tmp_path: Path
) -> None:
    path = tmp_path / "grid.sqlite"
    open_store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO grid_schema VALUES (?, 0)", (VERSION + 1,))
    (tmp_path / "keys").mkdir()
    fleet(1, 1, tmp_path / "keys")
    done = subprocess.run(
        [sys.executable, "-m", "edge", "grid", "collect", "--broker", broker.url, "--pubkeys",
         str(tmp_path / "keys"), "--store", str(path), "--timeout", "5"],
        capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"newer than this program's {VERSION}" in done.stderr


def test_store_errors_are_sorted_into_passing_and_lasting(tmp_path: Path) -> None:
    path = tmp_path / "grid.sqlite"
    open_store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with open_store(path, busy_timeout_ms=300) as store:
            holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
            with pytest.raises(sqlite3.OperationalError) as busy:
                store.ingest([], now=0)
            holder.execute("ROLLBACK")
        assert failure_state(busy.value) == "busy"
    finally:
        holder.close()
    (tmp_path / "garbage.sqlite").write_bytes(b"not a database" * 1000)
    with pytest.raises(Exception) as garbage:
        open_store(tmp_path / "garbage.sqlite")
    assert not isinstance(garbage.value, StoreUnavailable)  # retrying cannot help
    if postgres_bindir() is None:
        return
    with pytest.raises(StoreUnavailable) as refused:  # nobody listens there
        open_store(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    assert refused.value.state == "unreachable"


def test_an_outage_is_logged_when_it_starts_changes_and_ends_not_per_retry() -> None:
    outage = Outage(started=100.0, minimum=0.5, maximum=4.0)
    error = OSError("connection refused")
    lines = [outage.failed("unreachable", error, held=50) for _ in range(5)]
    assert lines[0] is not None and lines[0].startswith(UNAVAILABLE)
    assert "holding 50 blocks" in lines[0]
    assert lines[1:] == [None] * 4
    changed = outage.failed("disk full", OSError("no space left"), held=50)
    assert changed is not None and "now disk full" in changed
    assert [outage.next_wait() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert outage.ended(112.5).startswith(f"{BACK}12.5 s (6 failed attempts)")
