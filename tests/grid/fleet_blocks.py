"""Signed day blocks of many gateways, and a fast QoS 1 publisher, for the scale-out tests and
the ingest benchmark (until `edge-agent grid fleet` exists: it is the real fleet generator).

The blocks are the agent's own format (tests.blocks.factory's readings, one chain per gateway
and allocation point, real Ed25519 keys); `publish` keeps many QoS 1 messages in flight and
returns once the broker acknowledged every one.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.client import MQTT_ERR_SUCCESS, Client, MQTTv5
from paho.mqtt.enums import CallbackAPIVersion

from edge.adapters.mqtt_config import BrokerSettings
from edge.adapters.mqtt_topics import day_topic
from edge.blocks.chain import block_hash
from edge.blocks.cose import DAY_CONTENT_TYPE, sign
from edge.blocks.keys import save_public_key
from edge.blocks.payload import REGISTERS, encode_payload
from tests.blocks.factory import created_after, make_readings

PREFIX = "p1edge/v1"
Published = tuple[str, bytes]  # (topic, COSE bytes)


def gateway_id(index: int) -> str:
    return f"gw-{index:05d}"


def fleet(
    gateways: int, days: int, keys_dir: Path, *, first_day: date = date(2026, 3, 1)
) -> list[Published]:
    """`days` chained blocks for one allocation point of each gateway (day-major order, as a
    fleet pushes them: every gateway's day 1, then day 2 …); public keys go to keys_dir."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    chains: list[list[Published]] = []
    for index in range(gateways):
        gw, key = gateway_id(index), Ed25519PrivateKey.generate()
        save_public_key(key, keys_dir / f"{gw}.pub")
        chains.append(_chain(gw, f"8716871200{index:08d}", key, days, first_day, seed=index))
    return [chain[day] for day in range(days) for chain in chains]


def _chain(
    gw: str, ap: str, key: Ed25519PrivateKey, days: int, first_day: date, seed: int
) -> list[Published]:
    blocks: list[Published] = []
    prev: bytes | None = None
    base: tuple[int, ...] = (10_000_000 + seed, 9_000_000, 1_000_000, 500_000)
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        readings = make_readings(day, ap=ap, seed=seed * 1000 + offset, base=base)
        readings = dataclasses.replace(readings, gw=gw)
        base = tuple(int(readings.readings[r][-1] or 0) for r in REGISTERS)
        payload = encode_payload(readings, seq=offset + 1, prev=prev,
                                 created=created_after(readings), time_sync="ntp")  # fmt: skip
        block = sign(payload, key, DAY_CONTENT_TYPE)
        blocks.append((day_topic(PREFIX, gw, ap, day), block))
        prev = block_hash(block)
    return blocks


def publish(
    settings: BrokerSettings, blocks: Sequence[Published], *, timeout: float = 120.0
) -> float:
    """Publish at QoS 1 (up to 1 000 in flight); returns the seconds until the last PUBACK."""
    done = threading.Event()
    acked = [0]
    lock = threading.Lock()

    def on_publish(*_args: object) -> None:
        with lock:
            acked[0] += 1
            if acked[0] == len(blocks):
                done.set()

    client = Client(CallbackAPIVersion.VERSION2, protocol=MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect(settings.host, settings.port)
    client.loop_start()
    try:
        start = time.perf_counter()
        for topic, payload in blocks:
            info = client.publish(topic, payload, qos=1)
            if info.rc != MQTT_ERR_SUCCESS:
                raise RuntimeError(f"publish {topic}: rc {info.rc}")
        if blocks and not done.wait(timeout):
            raise RuntimeError(f"only {acked[0]} of {len(blocks)} publications acknowledged")
        return time.perf_counter() - start
    finally:
        client.disconnect()
        client.loop_stop()


def forged_block(gw: str, ap: str, keys_dir: Path) -> bytes:
    """A block claiming `gw` (seq 1, day 1) signed with another trusted gateway's key."""
    impostor = Ed25519PrivateKey.generate()
    save_public_key(impostor, keys_dir / "gw-impostor.pub")
    return _chain(gw, ap, impostor, 1, date(2026, 3, 1), seed=999)[0][1]
