"""The fleet's shells: write it to a directory, read blocks back, publish them to a broker.

Strategy: the files are what a grid operator would have after an export (`grid export` writes
the same layout), so the allocation run and the tests can work without a broker or a store.
The publisher keeps many QoS 1 messages in flight (paho's own window) and paces them evenly
over `window` seconds, as a fleet spreads its push over the night; it returns only once the
broker acknowledged every block.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from paho.mqtt.client import MQTT_ERR_SUCCESS

from edge.adapters.mqtt_config import BrokerSettings, new_client
from edge.adapters.mqtt_topics import DEFAULT_PREFIX, day_topic
from edge.blocks.keys import public_key_pem
from edge.errors import MqttError
from edge.grid.fleet import FleetBlock, FleetSpec, gateway_key, plan
from edge.grid.registry import registry_csv


def write_fleet(spec: FleetSpec, out: Path, blocks: Iterable[FleetBlock]) -> int:
    """Write DIR/registry.csv, DIR/pubkeys/<gw>.pub and DIR/blocks/<gw>/<ap>/<seq>.cose."""
    meters, rows = plan(spec)
    (out / "pubkeys").mkdir(parents=True, exist_ok=True)
    (out / "registry.csv").write_text(registry_csv(rows))
    for gw in sorted({m.gw for m in meters}):
        (out / "pubkeys" / f"{gw}.pub").write_bytes(public_key_pem(gateway_key(spec.seed, gw)))
    written = 0
    folders: set[Path] = set()
    for block in blocks:
        folder = out / "blocks" / block.gw / block.ap
        if folder not in folders:
            folder.mkdir(parents=True, exist_ok=True)
            folders.add(folder)
        (folder / f"{block.seq:06d}.cose").write_bytes(block.cose)
        written += 1
    return written


def read_blocks(folder: Path) -> Iterator[tuple[str, str, int, bytes]]:
    """(gw, ap, seq, COSE bytes) of DIR/blocks/<gw>/<ap>/<seq>.cose, by gw, ap, seq."""
    root = folder / "blocks" if (folder / "blocks").is_dir() else folder
    for gw_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for ap_dir in sorted(p for p in gw_dir.iterdir() if p.is_dir()):
            files = [(int(p.stem), p) for p in ap_dir.glob("*.cose") if p.stem.isdigit()]
            for seq, path in sorted(files):
                yield gw_dir.name, ap_dir.name, seq, path.read_bytes()


def publish_blocks(
    settings: BrokerSettings,
    blocks: Iterable[FleetBlock],
    *,
    window: float = 0.0,
    prefix: str = DEFAULT_PREFIX,
    inflight: int = 1000,
    timeout: float = 120.0,
) -> int:
    """Publish on the day topics at QoS 1, paced over `window` s; returns the number acked."""
    items = [(day_topic(prefix, b.gw, b.ap, b.day), b.cose) for b in blocks]
    done, lock = threading.Event(), threading.Lock()
    acked = [0]

    def on_publish(*_args: object) -> None:
        with lock:
            acked[0] += 1
            if acked[0] >= len(items):
                done.set()

    client = new_client(settings, "")
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    try:
        client.connect(settings.host, settings.port, settings.keepalive)
    except (OSError, ValueError) as exc:
        raise MqttError(f"cannot connect to {settings.url}: {exc}") from None
    client.loop_start()
    try:
        start = time.monotonic()
        pace = window / len(items) if items else 0.0
        for index, (topic, payload) in enumerate(items):
            ahead = start + index * pace - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            info = client.publish(topic, payload, qos=1)
            if info.rc != MQTT_ERR_SUCCESS:
                raise MqttError(f"publish {topic}: rc {info.rc}")
        if items and not done.wait(timeout + window):
            raise MqttError(f"only {acked[0]} of {len(items)} blocks acknowledged in time")
        return acked[0]
    finally:
        client.disconnect()
        client.loop_stop()
