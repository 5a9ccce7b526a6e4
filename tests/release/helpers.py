"""A gateway with keys and a grid section, fed from simulator captures, for release tests."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from edge.adapters.mqtt_blocking import BlockingClient
from edge.adapters.mqtt_config import BrokerSettings
from firmware_sim.api import render_to_file
from tests.integration.helpers import PRIMARY, SECONDARY_EV, edge, write_config

GW = "GW-TEST"
PREFIX = "p1edge/v1"


@dataclass
class Gateway:
    folder: Path
    config: Path
    broker_url: str
    part: int = 0

    def keys(self) -> Path:
        return self.folder / "keys"

    def feed(self, start: str, duration: str) -> None:
        """Render the next captures of both meters (continuing in time) as the file sources."""
        self.part += 1
        for ean, profile, seed in ((PRIMARY, "household", 1), (SECONDARY_EV, "ev-charger", 2)):
            render_to_file(
                self.folder / f"{ean}.cap", "dsmr5", start=start, duration=duration, seed=seed,
                profile=profile, interval=10, meter_id=f"METER{ean[-2:]}",
            )  # fmt: skip

    def run(self, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return edge("run", "--config", str(self.config), "--until-eof", *extra, timeout=timeout)


def make_gateway(folder: Path, broker_url: str) -> Gateway:
    keys = folder / "keys"
    assert edge("keygen", "--dir", str(keys)).returncode == 0
    assert edge("keygen", "--dir", str(keys), "--name", "operator").returncode == 0
    grid = (
        f'\n[signing]\nkey = "{keys / "gateway.key"}"\n\n[grid]\nbroker = "{broker_url}"\n'
        f'prefix = "{PREFIX}"\noperator_key = "{keys / "operator.pub"}"\n'
    )
    config = write_config(
        folder,
        [
            (PRIMARY, "primary", f"file:{PRIMARY}.cap", "dsmr5"),
            (SECONDARY_EV, "secondary", f"file:{SECONDARY_EV}.cap", "dsmr5"),
        ],
        extra=grid,
    )
    return Gateway(folder, config, broker_url)


@dataclass
class Watcher:
    """A subscriber on `#` that records every message (topic, payload) it sees."""

    settings: BrokerSettings
    seen: list[tuple[str, bytes]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.client = BlockingClient(self.settings, client_id="watcher")
        self.client.connect()
        self.client.subscribe("#")
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            message = self.client.receive(timeout=0.2)
            if message is not None:
                self.seen.append((message.topic, message.payload))

    def day_topics(self, ap: str) -> list[str]:
        return [t for t, _ in self.seen if f"/ap/{ap}/day/" in t]

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.client.close()


def collect(broker_url: str, keys: Path, db: Path, until: int) -> subprocess.Popen[str]:
    """`edge-agent grid collect` in the background."""
    # the collector binds a key to its gateway by file name: DIR/<gateway id>.pub
    pubkeys = keys.parent / "pubkeys"
    pubkeys.mkdir(exist_ok=True)
    (pubkeys / "GW-TEST.pub").write_bytes((keys / "gateway.pub").read_bytes())
    return subprocess.Popen(
        [sys.executable, "-m", "edge", "grid", "collect", "--broker", broker_url,
         "--pubkeys", str(pubkeys), "--db", str(db), "--until", str(until), "--timeout", "240"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def consumer_log(config: Path) -> list[dict[str, object]]:
    result = edge("log", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]
