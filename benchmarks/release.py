"""Backlog release: 40 days x 6 allocation points signed, queued, published at QoS 1, acknowledged.

Starts a local mosquitto on a free port (tests/support/mosquitto.py), then times, from the first
signature to the last PUBACK: encode + sign each day block (edge.blocks), archive it and put it
in the outbox (one SQLite transaction, WAL, synchronous=FULL, in a temp dir), and let the grid
link (edge.adapters.mqtt) publish it in order per allocation point and delete it on its PUBACK.
A subscriber checks that every block arrived once and verifies (edge.grid.verify), whose speed
is printed too. Peer: the naive way, sign and publish one block at a time with paho and
`wait_for_publish()` (no outbox). Target (SPEC §10): under 5 s.

    python3 benchmarks/release.py [--days 40] [--aps 6]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.adapters.mqtt import GridLink
from edge.adapters.mqtt_blocking import BlockingClient, close_client
from edge.adapters.mqtt_config import BrokerSettings, new_client
from edge.adapters.mqtt_topics import day_filter, day_topic
from edge.blocks.chain import block_hash
from edge.blocks.cose import DAY_CONTENT_TYPE, keyring, sign
from edge.blocks.days import day_layout
from edge.blocks.payload import REGISTERS, DayReadings, encode_payload
from edge.grid.verify import verify_blocks
from edge.store.db import connect
from edge.store.outbox import Outbox, archive_block
from tests.support.mosquitto import mosquitto_binary, running_broker

TARGET_S = 5.0
TZ = "Europe/Amsterdam"
GW = "gw-bench"
PREFIX = "p1edge/v1"


def day_readings(ap: str, day: date, values: list[int], rng: random.Random) -> DayReadings:
    """A plausible household day: import by day and night tariff, some PV export at noon."""
    start, n = day_layout(day, TZ)
    readings: dict[str, tuple[int | None, ...]] = {}
    for index, register in enumerate(REGISTERS):
        series = [values[index]]
        for q in range(n):
            daytime = 28 <= q < 92  # 07:00-23:00: tariff 2 (normal) in NL
            if register.startswith("import"):
                active = daytime == (register == "import_t2")
                step = rng.randrange(20, 400) if active else 0
            else:
                step = rng.randrange(0, 600) if 40 <= q < 68 and register == "export_t2" else 0
            series.append(series[-1] + step)
        values[index] = series[-1]
        readings[register] = tuple(series)
    status = tuple("interpolated" if rng.random() < 0.01 else "measured" for _ in range(n))
    flags: tuple[tuple[str, ...], ...] = ((),) * n
    meter = f"E0043007{ap[-8:]}"
    return DayReadings(GW, ap, "primary", meter, day, TZ, start, readings, status, flags)


def build_days(aps: list[str], days: int) -> list[list[DayReadings]]:
    """Per allocation point, `days` consecutive days of readings (prepared before timing)."""
    rng = random.Random(7)
    first = date(2026, 1, 5)
    result = []
    for ap in aps:
        values = [rng.randrange(1_000_000, 40_000_000) for _ in REGISTERS]
        result.append(
            [day_readings(ap, first + timedelta(days=d), values, rng) for d in range(days)]
        )
    return result


def sign_chain(readings: list[DayReadings], key: Ed25519PrivateKey) -> list[bytes]:
    """Encode and sign one point's days as a chain (seq 1.., prev = hash of the previous)."""
    blocks: list[bytes] = []
    prev: bytes | None = None
    for seq, day in enumerate(readings, start=1):
        created = day.start.astimezone(UTC) + timedelta(days=len(readings) + 1)
        payload = encode_payload(day, seq=seq, prev=prev, created=created, time_sync="ntp")
        block = sign(payload, key, DAY_CONTENT_TYPE)
        prev = block_hash(block)
        blocks.append(block)
    return blocks


def release(
    link: GridLink, db: Path, per_ap: list[list[DayReadings]], key: Ed25519PrivateKey
) -> tuple[float, float]:
    """Sign, archive and queue every block in one transaction, then wait for the last PUBACK.

    Returns (seconds until queued, seconds until all acknowledged)."""
    conn = connect(db)
    outbox = Outbox(conn)
    try:
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for readings in per_ap:
            blocks = sign_chain(readings, key)
            for seq, (day, block) in enumerate(zip(readings, blocks, strict=True), start=1):
                period = day.day.isoformat()
                archive_block(conn, ap=day.ap, seq=seq, period=period, cose=block, now=0)
                outbox.enqueue(day.ap, day_topic(PREFIX, GW, day.ap, day.day), block, now=0)
        conn.execute("COMMIT")
        link.wake()
        queued = time.perf_counter() - started
        status = link.wait_settled(120)
        done = time.perf_counter() - started
        if status.depth:
            raise SystemExit(f"release: {status.depth} blocks still in the outbox: {status}")
        return queued, done
    finally:
        conn.close()


def naive_peer(
    settings: BrokerSettings, per_ap: list[list[DayReadings]], key: Ed25519PrivateKey
) -> float:
    """Sign and publish one block at a time, waiting for each PUBACK (paho wait_for_publish)."""
    client = new_client(settings, "naive-peer")
    client.connect(settings.host, settings.port)
    client.loop_start()
    try:
        started = time.perf_counter()
        for readings in per_ap:
            for day, block in zip(readings, sign_chain(readings, key), strict=True):
                info = client.publish(day_topic(PREFIX, "gw-naive", day.ap, day.day), block, qos=1)
                info.wait_for_publish(timeout=30)
        return time.perf_counter() - started
    finally:
        close_client(client)


def collect_all(watcher: BlockingClient, count: int) -> list[bytes]:
    received: list[bytes] = []
    while len(received) < count:
        message = watcher.receive(timeout=30)
        if message is None:
            raise SystemExit(f"release: only {len(received)} of {count} blocks arrived")
        received.append(message.payload)
    return received


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--aps", type=int, default=6)
    args = parser.parse_args()
    if mosquitto_binary() is None:
        raise SystemExit("release: mosquitto is not installed (apt-get install mosquitto)")
    aps = [f"8716871200000{n:05d}" for n in range(args.aps)]
    per_ap = build_days(aps, args.days)
    count = args.days * args.aps
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as tmp, running_broker(Path(tmp) / "broker") as broker:
        settings = BrokerSettings.from_config(broker.url)
        db = Path(tmp) / "gateway.sqlite"
        with BlockingClient(settings) as watcher:
            watcher.subscribe(day_filter(PREFIX, GW))
            link = GridLink(settings, gateway_id=GW, db_path=db)
            link.start()
            try:
                if not link.wait(lambda s: s.connected, 30).connected:
                    raise SystemExit("release: the link did not connect")
                queued, ours = release(link, db, per_ap, key)
            finally:
                link.stop()
            received = collect_all(watcher, count)
        peer = naive_peer(settings, per_ap, key)
    result = verify_blocks([(str(i), b) for i, b in enumerate(received)], keyring(key.public_key()))
    if not result.ok or result.gaps or len(set(received)) != count:
        raise SystemExit(f"release: delivered blocks do not verify: {result.failures} failures")
    print(
        f"release: {count} blocks signed+published+acked in {ours:.2f} s "
        f"(target < {TARGET_S:g} s); signed+archived+queued in {queued:.2f} s"
    )
    print(
        f"naive peer (sign, publish, wait_for_publish one at a time, no outbox): {peer:.2f} s; "
        f"peer/ours = {peer / ours:.1f}x"
    )
    print(verifier_figure())
    return 0 if ours < TARGET_S else 1


def verifier_figure() -> str:
    """The verifier's throughput on benchmarks/verify.py's block set (its `build`)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import verify as verify_benchmark  # benchmarks/verify.py

    blocks, keys = verify_benchmark.build(10, 5, 40)
    items = [(f"block{i}", b) for i, b in enumerate(blocks)]
    ring = keyring(*(k.public_key() for k in keys))
    best = min(_timed(lambda: verify_blocks(items, ring)) for _ in range(3))
    rate = len(blocks) / best
    return f"verify: {len(blocks)} blocks in {best:.2f} s = {rate:.0f} blocks/s (target >= 5000)"


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
