"""Realistic day readings and signed chains for the block and verifier tests."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.blocks.chain import block_hash
from edge.blocks.cose import DAY_CONTENT_TYPE, sign
from edge.blocks.days import day_layout
from edge.blocks.payload import REGISTERS, DayReadings, encode_payload

TZ = "Europe/Amsterdam"
GW = "gw-0001"
AP = "871687120000000011"


def make_readings(
    day: date = date(2026, 3, 10),
    *,
    tz: str = TZ,
    ap: str = AP,
    seed: int = 1,
    base: tuple[int, ...] = (12_345_678, 8_765_432, 1_234_567, 765_432),
    meter: str = "E0043007123456789",
) -> DayReadings:
    """A day of increasing boundary readings with a few interpolated/missing intervals."""
    rng = random.Random(seed)
    start, n = day_layout(day, tz)
    readings = {}
    for index, register in enumerate(REGISTERS):
        value = base[index]
        values: list[int | None] = [value]
        for _ in range(n):
            value += rng.randrange(0, 400)
            values.append(value)
        readings[register] = tuple(values)
    status = ["measured"] * n
    flags: list[tuple[str, ...]] = [()] * n
    status[5] = "interpolated"
    status[7] = "missing"
    flags[7] = ("power_failure",)
    for register in REGISTERS:
        values = list(readings[register])
        values[8] = None  # boundary between intervals 7 and 8 unknown
        readings[register] = tuple(values)
    status[8] = "missing"
    return DayReadings(
        gw=GW,
        ap=ap,
        role="primary",
        meter=meter,
        day=day,
        tz=tz,
        start=start,
        readings=readings,
        status=tuple(status),
        flags=tuple(flags),
    )


def created_after(readings: DayReadings) -> datetime:
    """A release time: 02:13 UTC the morning after the day ended."""
    return readings.start.astimezone(UTC) + timedelta(hours=27, minutes=13)


def make_chain(
    key: Ed25519PrivateKey, days: int, *, first_day: date = date(2026, 3, 1), ap: str = AP
) -> list[bytes]:
    """`days` consecutive signed, chained day blocks for one allocation point."""
    blocks: list[bytes] = []
    prev: bytes | None = None
    base: tuple[int, ...] = (10_000_000, 9_000_000, 1_000_000, 500_000)
    for offset in range(days):
        readings = make_readings(first_day + timedelta(days=offset), ap=ap, seed=offset, base=base)
        base = tuple(int(readings.readings[r][-1] or 0) for r in REGISTERS)
        payload = encode_payload(
            readings,
            seq=offset + 1,
            prev=prev,
            created=created_after(readings),
            time_sync="ntp",
        )
        block = sign(payload, key, DAY_CONTENT_TYPE)
        blocks.append(block)
        prev = block_hash(block)
    return blocks
