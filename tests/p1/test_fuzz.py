"""Fuzzing: mutated telegrams never crash the reader and a wrong CRC never becomes a telegram.

Seeded (deterministic) mutations of the real fixtures: byte flips, insertions, deletions,
truncations, duplications and splices, fed in random chunk sizes; and hostile cases that reach
past the CRC (values re-sealed with a matching CRC: digit runs past Python's int limit, wrong
units), stray 0xDB bytes and captures that end without their line end or CRC. A few thousand in
the default run; 100 000 behind the `slow` marker; hypothesis for arbitrary bytes.
"""

from __future__ import annotations

import random
import re

import pytest

from edge.p1 import P1Decoder, Telegram
from edge.p1.crc import crc16_arc, crc16_arc_pure
from tests.conftest import FIXTURE_NAMES, fixture_bytes

FIXTURES = [fixture_bytes(name) for name in FIXTURE_NAMES]


VALUE = re.compile(rb"\(([-0-9.]+)(\*[A-Za-z0-9]+)?\)")
UNITS = [b"*kWh", b"*Wh", b"*MWh", b"*kW", b"*W", b"*m3", b"*dm3", b"*GJ", b"*A", b"*V", b""]


def reseal(data: bytes) -> bytes:
    """Every telegram in `data` with a CRC that matches its (mutated) bytes."""
    return re.sub(
        rb"/[^!]*!(?:[0-9A-Fa-f]{0,4})",
        lambda m: m.group().split(b"!")[0] + b"!%04X" % crc16_arc(m.group().split(b"!")[0] + b"!"),
        data,
    )


def hostile(rng: random.Random) -> bytes:
    """A fixture whose values are changed and re-sealed, so the parser (not the CRC) judges."""
    data = bytearray(rng.choice([f for f in FIXTURES if b"!\r" not in f] or FIXTURES))
    values = list(VALUE.finditer(data))
    for match in rng.sample(values, min(len(values), rng.randint(1, 3))):
        start, end = match.span(1)
        kind = rng.randrange(3)
        if kind == 0:  # a digit run, up to past the int() limit
            data[start:start] = b"9" * rng.choice([1, 8, 15, 25, 4301, 6000])
        elif kind == 1 and match.group(2):
            data[end : match.end(2)] = rng.choice(UNITS)
        else:
            data[start:end] = rng.choice([b"", b".", b"-", b"1e9", b"0" * 30 + b"1.5"])
        break  # spans of later matches moved: one change per pass
    out = reseal(bytes(data))
    if rng.random() < 0.3:  # a capture that ends at `!` or inside its CRC, no line end
        out = out[: out.rindex(b"!") + 1 + rng.randrange(5)]
    if rng.random() < 0.3:  # stray bytes that look like a DLMS header
        pos = rng.randrange(len(out) + 1)
        out = out[:pos] + b"\xdb\x08" + bytes(rng.randrange(256) for _ in range(12)) + out[pos:]
    return out


def mutate(rng: random.Random) -> bytes:
    if rng.random() < 0.25:
        return hostile(rng)
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
        decoder = P1Decoder(dialect=rng.choice(["auto", "dsmr5", "dsmr22", "smarty"]))
        events = []
        pos = 0
        while pos < len(stream):
            step = rng.randint(1, 700)
            events += decoder.feed(stream[pos : pos + step])
            pos += step
        events += decoder.end_of_input() if rng.random() < 0.5 else decoder.flush()
        for event in events:
            if isinstance(event, Telegram):
                if event.crc == "ok":
                    assert crc_really_matches(event, stream)
                    accepted += 1
                check_views(event)
        stats = decoder.stats
        assert stats.telegrams == stats.crc_ok + stats.crc_none
    return accepted


# The widest register a meter shows (8 + 3 digits); SQLite's INTEGER holds 64 bits.
MAX_REGISTER = 10**11 - 1


def check_views(event: Telegram) -> None:
    """The derived views never raise, and every number in them fits what a meter shows."""
    regs = event.registers
    numbers = [regs.import_t1, regs.import_t2, regs.export_t1, regs.export_t2]
    numbers += [regs.import_total, regs.export_total, event.power_import_w, event.power_export_w]
    numbers += [dev.base_value for dev in event.mbus]
    numbers += [p.value_w for p in event.month_peaks or ()]
    numbers += [event.average_demand_w, event.power_failure_count, event.tariff]
    numbers += [f.duration_s for f in event.power_failures or ()]
    assert all(abs(n) <= 10**18 for n in numbers if n is not None)
    assert all(abs(n) <= MAX_REGISTER for n in numbers[:6] if n is not None)
    _ = (event.objects, event.unparsed, event.month_peak, event.version)


def test_hostile_values_are_rejected_and_counted_never_raised() -> None:
    rng = random.Random(11)
    rejected = accepted = 0
    for _ in range(400):
        stream = hostile(rng)
        decoder = P1Decoder()
        for event in decoder.feed(stream) + decoder.end_of_input():
            if isinstance(event, Telegram):
                check_views(event)
        rejected += decoder.stats.errors
        accepted += decoder.stats.telegrams
    assert rejected > 20 and accepted > 200  # the values really passed the CRC to the parser


def test_arbitrary_bytes_any_chunking_never_raise() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    pieces = st.sampled_from([*FIXTURES, b"\xdb\x08", b"!", b"/", b"\r\n", b"9" * 5000, b"*m3)"])
    chunks = st.lists(st.one_of(st.binary(max_size=64), pieces), max_size=12)

    @settings(max_examples=300, deadline=None)
    @given(chunks, st.sampled_from(["auto", "dsmr5", "sagemcom"]), st.booleans())
    def never_raises(parts: list[bytes], dialect: str, end: bool) -> None:
        decoder = P1Decoder(dialect=dialect)
        events = [e for part in parts for e in decoder.feed(part)]
        events += decoder.end_of_input() if end else decoder.flush()
        for event in events:
            if isinstance(event, Telegram):
                check_views(event)
        stats = decoder.stats
        assert stats.telegrams == stats.crc_ok + stats.crc_none

    never_raises()


def test_fuzz_default_run() -> None:
    assert fuzz(3000, seed=2026) > 500


@pytest.mark.slow
def test_fuzz_long_run() -> None:
    assert fuzz(100_000, seed=1) > 10_000
