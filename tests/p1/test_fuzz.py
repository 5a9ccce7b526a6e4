"""Fuzzing: mutated telegrams never crash the reader and a wrong CRC never becomes a telegram.

Seeded (deterministic) mutations of the real fixtures: byte flips, insertions, deletions,
truncations, duplications and splices, fed in random chunk sizes. A few thousand in the default
run; 100 000 behind the `slow` marker.
"""

from __future__ import annotations

import random
import re

import pytest

from edge.p1 import P1Decoder, Telegram
from edge.p1.crc import crc16_arc_pure
from tests.conftest import FIXTURE_NAMES, fixture_bytes

FIXTURES = [fixture_bytes(name) for name in FIXTURE_NAMES]


def mutate(rng: random.Random) -> bytes:
    data = bytearray(rng.choice(FIXTURES))
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(data) + 1)
        kind = rng.randrange(6)
        if kind == 0 and pos < len(data):
            data[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 2:
            del data[pos : pos + rng.randint(1, 16)]
        elif kind == 3:
            del data[pos:]
        elif kind == 4:
            data[pos:pos] = data[: rng.randint(1, 200)]
        else:
            data[pos:pos] = rng.choice(FIXTURES)
    return bytes(data)


def crc_really_matches(telegram: Telegram, stream: bytes) -> bool:
    """Independent check: the telegram's bytes in the stream are followed by a matching CRC."""
    body = telegram.text.encode("latin-1")
    found = stream.find(body)
    while found >= 0:
        tail = re.match(rb"[0-9A-Fa-f]{1,4}", stream[found + len(body) :])
        if tail and int(tail.group(), 16) == crc16_arc_pure(body):
            return True
        found = stream.find(body, found + 1)
    return False


def fuzz(count: int, seed: int) -> int:
    rng = random.Random(seed)
    accepted = 0
    for _ in range(count):
        stream = mutate(rng)
        decoder = P1Decoder()
        events = []
        pos = 0
        while pos < len(stream):
            step = rng.randint(1, 700)
            events += decoder.feed(stream[pos : pos + step])
            pos += step
        events += decoder.flush()
        for event in events:
            if isinstance(event, Telegram) and event.crc == "ok":
                assert crc_really_matches(event, stream)
                accepted += 1
                # the derived views must not raise on whatever survived
                _ = (event.objects, event.mbus, event.power_failures, event.month_peaks)
        stats = decoder.stats
        assert stats.telegrams == stats.crc_ok + stats.crc_none
    return accepted


def test_fuzz_default_run() -> None:
    assert fuzz(3000, seed=2026) > 500


@pytest.mark.slow
def test_fuzz_long_run() -> None:
    assert fuzz(100_000, seed=1) > 10_000
