"""Gateway keys in the store (`edge-agent grid keys --store URL import DIR`): shared by the
collectors of the store, bound one key to one gateway, picked up while a collector runs.

Real components: both store engines, mosquitto, `grid collect` as its own process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.blocks.cose import raw_public_key
from edge.blocks.keys import save_public_key
from edge.cli import main
from edge.grid.store import open_store
from tests.grid.fleet_blocks import Published, _chain, publish
from tests.support.mosquitto import Broker, mosquitto_fixture

broker = mosquitto_fixture()
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0


def _gateways(directory: Path, names: list[str]) -> dict[str, tuple[Ed25519PrivateKey, Published]]:
    """A key (saved as DIR/<gw>.pub) and a first day block for each named gateway."""
    directory.mkdir(parents=True, exist_ok=True)
    made = {}
    for index, gw in enumerate(names):
        key = Ed25519PrivateKey.generate()
        save_public_key(key, directory / f"{gw}.pub")
        ap = f"87168712{zlib.crc32(gw.encode()) % 10**10:010d}"
        made[gw] = (key, _chain(gw, ap, key, 1, date(2026, 3, 1), seed=index)[0])
    return made


def _keys_import(store: str, directory: Path, *extra: str) -> int:
    return main(["grid", "keys", "--store", store, "import", str(directory), *extra])


def _stored_keys(store: str) -> dict[str, bytes]:
    with open_store(store) as opened:
        return opened.gateway_keys()


def test_import_is_idempotent_one_key_one_gateway_and_all_or_nothing(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _gateways(tmp_path / "first", ["gw-a", "gw-b", "gw-c"])
    assert _keys_import(store_url, tmp_path / "first") == 0
    assert "3 of 3 gateways' keys new or replaced" in capsys.readouterr().out
    expected = {gw: raw_public_key(key) for gw, (key, _b) in first.items()}
    assert _stored_keys(store_url) == expected
    assert _keys_import(store_url, tmp_path / "first") == 0  # the same keys again: no change
    assert "0 of 3" in capsys.readouterr().out
    # another key for gw-a (and a new gw-d beside it): refused, and gw-d not imported either
    _gateways(tmp_path / "rotated", ["gw-a", "gw-d"])
    assert _keys_import(store_url, tmp_path / "rotated") == 2
    assert "gw-a has another key in the store" in capsys.readouterr().err
    assert _stored_keys(store_url) == expected
    # gw-b's key given for gw-e: one key must never sign for two gateways, --replace or not
    (tmp_path / "stolen").mkdir()
    (tmp_path / "stolen" / "gw-e.pub").write_bytes((tmp_path / "first" / "gw-b.pub").read_bytes())
    assert _keys_import(store_url, tmp_path / "stolen", "--replace") == 2
    assert "is the stored key of gw-b" in capsys.readouterr().err
    assert _stored_keys(store_url) == expected
    # a rotation, asked for
    assert _keys_import(store_url, tmp_path / "rotated", "--replace") == 0
    stored = _stored_keys(store_url)
    assert stored["gw-a"] != expected["gw-a"] and "gw-d" in stored and len(stored) == 4


class _Collector:
    def __init__(self, argv: list[str], work: Path) -> None:
        self.out, self.err = work / "collect.out", work / "collect.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge", "grid", "collect", *argv], stdout=out,
                stderr=err, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
            )  # fmt: skip
        self.wait_for(lambda: "subscribed to" in self.err.read_text(), "the subscription")

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            assert self.process.poll() is None, self.err.read_text()
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)


def test_a_collector_takes_the_store_keys_and_keys_imported_while_it_runs(
    broker: Broker, store_url: str, tmp_path: Path
) -> None:
    early = _gateways(tmp_path / "early", ["gw-early-1", "gw-early-2"])
    late = _gateways(tmp_path / "late", ["gw-late"])
    never = _gateways(tmp_path / "never", ["gw-never"])
    assert _keys_import(store_url, tmp_path / "early") == 0
    collector = _Collector(
        ["--broker", broker.url, "--store", store_url, "--client-id", f"keys-{tmp_path.name}"],
        tmp_path,
    )  # fmt: skip  (no --pubkeys)
    store = open_store(store_url)
    try:
        publish(broker.settings(), [block for _key, block in early.values()])
        collector.wait_for(lambda: store.count() == 2, "the early gateways' blocks")
        assert _keys_import(store_url, tmp_path / "late") == 0  # while the collector runs
        publish(broker.settings(), [late["gw-late"][1], never["gw-never"][1]])
        collector.wait_for(lambda: store.count() == 3, "the late gateway's block")
        collector.wait_for(lambda: store.rejected_count() == 1, "the unknown key rejected")
        (rejected,) = store.rejected_for_days(["2026-03-01"])
        assert rejected.gw == "gw-never" and "unknown kid" in rejected.reason
        assert sorted(gw for gw, _ap, _seq, _cose in store.blocks()) == [
            "gw-early-1", "gw-early-2", "gw-late"
        ]  # fmt: skip
    finally:
        store.close()
        collector.process.send_signal(signal.SIGTERM)
        assert collector.process.wait(TIMEOUT) == 0


def test_a_gateway_with_another_key_in_dir_than_in_the_store_is_refused_at_start(
    broker: Broker, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'grid.sqlite'}"
    _gateways(tmp_path / "imported", ["gw-x"])
    assert _keys_import(store, tmp_path / "imported") == 0
    _gateways(tmp_path / "local", ["gw-x"])  # another key under the same name
    done = subprocess.run(
        [sys.executable, "-m", "edge", "grid", "collect", "--broker", broker.url, "--store",
         store, "--pubkeys", str(tmp_path / "local"), "--timeout", "5"],
        capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "gw-x: another key in" in done.stderr
    # no keys anywhere: a clear error too
    empty = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    assert main(["grid", "collect", "--broker", broker.url, "--store", empty]) == 2


def test_keys_are_looked_for_at_most_every_few_seconds(tmp_path: Path) -> None:
    """Plain code, a real SQLite store, time as an argument: a flood of blocks with unknown
    keys is one look per KEY_REFRESH_SECONDS, and a key imported after a look waits for the
    next one."""
    from edge.grid.collector import KEY_REFRESH_SECONDS, Collector, startup_keys
    from edge.grid.store import Rejection

    made = _gateways(tmp_path / "keys", ["gw-1", "gw-2", "gw-3"])
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "gw-1.pub").write_bytes((tmp_path / "keys" / "gw-1.pub").read_bytes())
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / "gw-2.pub").write_bytes((tmp_path / "keys" / "gw-2.pub").read_bytes())
    store = f"sqlite:///{tmp_path / 'grid.sqlite'}"
    assert _keys_import(store, tmp_path / "first") == 0
    clock = [1000.0]
    opened = open_store(store)
    collector = Collector(opened, startup_keys(opened, None), keys_since=0,
                          monotonic=lambda: clock[0])  # fmt: skip
    try:
        topic, block = made["gw-2"][1]
        (unknown,) = collector.examine([(topic, block)])
        assert isinstance(unknown, Rejection) and unknown.key_problem
        (result,) = collector.settle([unknown], now=10)  # looked: gw-2's key is not there yet
        assert result.verdict == "rejected"
        assert _keys_import(store, tmp_path / "second") == 0
        clock[0] += KEY_REFRESH_SECONDS / 2
        (result,) = collector.settle(collector.examine([(topic, block)]), now=11)
        assert result.verdict == "rejected"  # too soon for another look
        clock[0] += KEY_REFRESH_SECONDS
        (result,) = collector.settle(collector.examine([(topic, block)]), now=12)
        assert result.verdict == "stored"  # looked again, found gw-2's key, checked again
        assert collector.count() == 1
    finally:
        collector.close()
