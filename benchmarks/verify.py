"""Verifier throughput: signed day blocks verified per second on one core, against pycose.

Builds realistic blocks (10 gateways x 5 allocation points x 40 days = 2 000 blocks of 96
intervals and 4 registers, chained), then times `edge.grid.verify.verify_blocks` (signature,
kid, contents, chain) and pycose verifying only the signatures of the same bytes, in the same
run. Target (SPEC §10): at least 5 000 blocks/s per core. The signature check uses libsodium
when PyNaCl is installed, else cryptography; the "Ed25519 check alone" line is the ceiling any
verifier has on the machine.

    python3 benchmarks/verify.py [--gateways 10] [--aps 5] [--days 40] [--rounds 5]

Exit status 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, timedelta
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.blocks import ed25519
from edge.blocks.chain import block_hash
from edge.blocks.cose import DAY_CONTENT_TYPE, key_id, keyring, raw_public_key, sign
from edge.blocks.days import day_layout
from edge.blocks.payload import REGISTERS, DayReadings, encode_payload
from edge.grid.verify import verify_blocks

TARGET = 5_000
TZ = "Europe/Amsterdam"


def day_readings(
    gw: str, ap: str, day: date, start_values: list[int], rng: random.Random
) -> DayReadings:
    start, n = day_layout(day, TZ)
    readings: dict[str, tuple[int | None, ...]] = {}
    for index, register in enumerate(REGISTERS):
        value, values = start_values[index], [start_values[index]]
        for _ in range(n):
            value += (
                rng.randrange(0, 350) if register.startswith("import") else rng.randrange(0, 90)
            )
            values.append(value)
        start_values[index] = value
        readings[register] = tuple(values)
    status = tuple("interpolated" if rng.random() < 0.02 else "measured" for _ in range(n))
    flags = tuple(("clock_skew",) if rng.random() < 0.01 else () for _ in range(n))
    return DayReadings(gw, ap, "primary", f"E00{gw}", day, TZ, start, readings, status, flags)


def build(gateways: int, aps: int, days: int) -> tuple[list[bytes], list[Ed25519PrivateKey]]:
    rng = random.Random(42)
    blocks: list[bytes] = []
    keys = [Ed25519PrivateKey.generate() for _ in range(gateways)]
    for g, key in enumerate(keys):
        for a in range(aps):
            prev: bytes | None = None
            values = [rng.randrange(1_000_000, 50_000_000) for _ in REGISTERS]
            for d in range(days):
                readings = day_readings(
                    f"gw{g:04d}",
                    f"87168712{g:04d}{a:06d}",
                    date(2026, 1, 1) + timedelta(days=d),
                    values,
                    rng,
                )
                created = readings.start.astimezone(UTC) + timedelta(days=1, hours=2)
                payload = encode_payload(
                    readings, seq=d + 1, prev=prev, created=created, time_sync="ntp"
                )
                block = sign(payload, key, DAY_CONTENT_TYPE)
                prev = block_hash(block)
                blocks.append(block)
    return blocks, keys


def best_of(rounds: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def pycose_verifier(keys: list[Ed25519PrivateKey]) -> Callable[[list[bytes]], None]:
    from pycose.headers import KID
    from pycose.keys import OKPKey
    from pycose.keys.curves import Ed25519
    from pycose.messages import Sign1Message

    by_kid = {key_id(k): OKPKey(crv=Ed25519, x=raw_public_key(k)) for k in keys}

    def run(blocks: list[bytes]) -> None:
        for block in blocks:
            # Sign1Message.decode() rejects cbor2 >= 6 output (arrays decode as tuples,
            # pycose issue #141), so decode the tag ourselves and hand pycose a list
            # and its unprotected header as a dict (cbor2 6 decodes it as a frozendict)
            protected, unprotected, payload, signature = cbor2.loads(block).value
            message = Sign1Message.from_cose_obj(
                [protected, dict(unprotected), payload, signature], True
            )
            message.key = by_kid[message.phdr[KID]]
            if not message.verify_signature():
                raise SystemExit("pycose: signature did not verify")

    return run


def signature_only(keys: list[Ed25519PrivateKey], blocks: list[bytes]) -> Callable[[], None]:
    """The ceiling: the Ed25519 check alone on pre-split messages (no CBOR, no other checks)."""
    by_kid = {key_id(k): k.public_key() for k in keys}
    split = []
    for block in blocks:
        protected, _, payload, signature = cbor2.loads(block).value
        to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
        split.append((by_kid[cbor2.loads(protected)[4]], signature, to_be_signed))

    def run() -> None:
        for public_key, signature, to_be_signed in split:
            ed25519.check(public_key, signature, to_be_signed)

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=10)
    parser.add_argument("--aps", type=int, default=5)
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    blocks, keys = build(args.gateways, args.aps, args.days)
    ring = keyring(*(k.public_key() for k in keys))
    items = [(f"block{i}", b) for i, b in enumerate(blocks)]
    result = verify_blocks(items, ring)
    if not result.ok or result.gaps:
        raise SystemExit(f"benchmark blocks did not verify: {result.failures} failures")
    ours = best_of(args.rounds, lambda: verify_blocks(items, ring))
    strict = best_of(args.rounds, lambda: verify_blocks(items, ring, strict_encoding=True))
    peer_run = pycose_verifier(keys)
    peer = best_of(args.rounds, lambda: peer_run(blocks))
    floor = best_of(args.rounds, signature_only(keys, blocks))
    n = len(blocks)
    size = sum(map(len, blocks)) // n
    print(f"blocks: {n} signed day blocks, 96 intervals x 4 registers, {size} bytes each")
    print(
        f"verify: {n} blocks in {ours:.2f} s = {n / ours:.0f} blocks/s; target >= {TARGET} blocks/s"
    )
    print(f"verify --strict-encoding: {n / strict:.0f} blocks/s (payload re-encoded and compared)")
    print(f"pycose (signature only): {n / peer:.0f} blocks/s; ours/pycose = {peer / ours:.2f}x")
    print(
        f"Ed25519 check alone ({ed25519.BACKEND}, no decoding): {n / floor:.0f} signatures/s "
        f"on this core; ours = {floor / ours:.0%} of that ceiling"
    )
    return 0 if n / ours >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
