"""The framer and decoder: any chunking, glue, garbage, padding and truncation."""

from __future__ import annotations

import random

import pytest

from edge.p1 import P1Decoder, Rejected, Telegram, decode
from edge.p1.framer import MAX_FRAME, EncryptedFrame, FrameDiscarded, Framer, PlainFrame
from tests.conftest import DATA, FIXTURE_NAMES, fixture_bytes

KEY = bytes.fromhex("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")


def summary(telegrams: list[Telegram]) -> list[tuple[object, ...]]:
    return [(t.header, t.timestamp, t.registers, t.text) for t in telegrams]


def feed_chunks(data: bytes, sizes: list[int]) -> list[Telegram]:
    decoder = P1Decoder()
    out: list[Telegram] = []
    pos = 0
    for size in sizes:
        out += [e for e in decoder.feed(data[pos : pos + size]) if isinstance(e, Telegram)]
        pos += size
    out += [e for e in decoder.feed(data[pos:]) + decoder.flush() if isinstance(e, Telegram)]
    return out


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_whole_bytewise_random_chunks_and_garbage_prefix_agree(name: str) -> None:
    data = fixture_bytes(name)
    whole = summary(decode(data))
    assert len(whole) == 1
    assert summary(feed_chunks(data, [1] * len(data))) == whole
    rng = random.Random(name)
    for _ in range(20):
        sizes = [rng.randint(1, 64) for _ in range(len(data) // 8)]
        assert summary(feed_chunks(data, sizes)) == whole
    garbage = bytes(rng.randrange(256) for _ in range(300)).replace(b"/", b"")
    assert summary(decode(garbage + data)) == whole


def test_all_fixtures_glued_back_to_back_and_with_noise_between(
    all_fixtures: dict[str, bytes],
) -> None:
    expected = [summary(decode(data))[0] for data in all_fixtures.values()]
    stream = b"".join(all_fixtures.values())
    assert summary(decode(stream)) == expected
    noisy = b"".join(b"\xff" * 33 + b"\x00\x13garbage\xfe\r\n" + d for d in all_fixtures.values())
    decoder = P1Decoder()
    telegrams = [e for e in decoder.feed(noisy) + decoder.flush() if isinstance(e, Telegram)]
    assert summary(telegrams) == expected
    assert decoder.stats.skipped_bytes > 33 * len(expected)
    assert decoder.stats.errors == 0


def test_glued_without_line_end() -> None:
    v5, v4 = fixture_bytes("v5.txt"), fixture_bytes("v4_2.txt")
    glued = v5.rstrip(b"\r\n") + v4  # `!6EEE/KFM5...`
    assert [t.header for t in decode(glued)] == ["ISk5\\2MT382-1000", "KFM5KAIFA-METER"]


def test_truncated_telegram_followed_by_a_good_one() -> None:
    v5, v4 = fixture_bytes("v5.txt"), fixture_bytes("v4_2.txt")
    decoder = P1Decoder()
    events = decoder.feed(v5[:300] + v4) + decoder.flush()
    assert [type(e) for e in events] == [Rejected, Telegram]
    assert isinstance(events[0], Rejected) and events[0].reason == "truncated"
    assert decoder.stats.telegrams == 1 and decoder.stats.errors == 1


def test_bad_crc_is_counted_and_never_a_telegram() -> None:
    data = bytearray(fixture_bytes("v5.txt"))
    data[data.index(b"4.426")] = ord("5")
    decoder = P1Decoder()
    events = decoder.feed(bytes(data)) + decoder.flush()
    assert len(events) == 1 and isinstance(events[0], Rejected) and events[0].reason == "crc"
    assert events[0].header == "ISk5\\2MT382-1000"
    assert decoder.stats.crc_bad == 1 and decoder.stats.telegrams == 0


def test_lowercase_and_unpadded_crc_compare_numerically() -> None:
    v4 = fixture_bytes("v4_2.txt")
    assert len(decode(v4.replace(b"!6796", b"!6796".lower()))) == 1
    assert decode(fixture_bytes("unpadded_crc.txt"))[0].crc == "ok"


def test_missing_crc_after_crc_seen_is_rejected_in_auto_mode() -> None:
    v5 = fixture_bytes("v5.txt")
    stripped = v5.replace(b"!6EEE", b"!")
    decoder = P1Decoder(require_crc="auto")
    events = decoder.feed(v5 + stripped) + decoder.flush()
    assert [type(e) for e in events] == [Telegram, Rejected]
    assert P1Decoder(require_crc="auto").feed(stripped)[0].crc == "none"  # type: ignore[union-attr]


def test_oversized_frame_is_garbage_and_reader_recovers() -> None:
    v5 = fixture_bytes("v5.txt")
    huge = b"/XYZ5 huge\r\n\r\n" + b"1-0:1.8.1(000001.000*kWh)\r\n" * (MAX_FRAME // 20)
    decoder = P1Decoder()
    events = decoder.feed(huge + v5) + decoder.flush()
    assert isinstance(events[0], Rejected) and events[0].reason == "oversized"
    assert isinstance(events[-1], Telegram)
    assert Framer().buffered == 0


def test_buffer_stays_bounded_on_endless_garbage() -> None:
    framer = Framer()
    rng = random.Random(7)
    for _ in range(200):
        framer.feed(bytes(rng.randrange(256) for _ in range(512)))
        assert framer.buffered <= MAX_FRAME + 512


def test_encrypted_frames_are_framed_by_their_length_field() -> None:
    frames = [
        (DATA / "encrypted" / f"{n}.bin").read_bytes()
        for n in ("sagemcom_t210_d_r_gcm", "luxembourg_smarty_msn_gcm")
    ]
    stream = b"\x00\xff" + frames[0] + b"noise" + frames[1]
    framer = Framer()
    events = [e for i in range(len(stream)) for e in framer.feed(stream[i : i + 1])]
    assert [e.data for e in events if isinstance(e, EncryptedFrame)] == frames
    assert sum(e.size for e in events if isinstance(e, FrameDiscarded)) == 7
    assert not any(isinstance(e, PlainFrame) for e in events)
    telegrams = decode(stream, key=KEY)
    assert [t.registers.import_total for t in telegrams] == [6_545_766, 273_764]


def test_counters_do_not_depend_on_how_the_line_is_chunked() -> None:
    from firmware_sim.api import render

    faults = "crc:0.1,noise:0.2,pad_ff:0.2,truncate:0.1,glue:0.1"
    data = render("dsmr5", start="2026-06-01T00:00:00+02:00", duration="3m", seed=1,
                  faults=faults).data  # fmt: skip

    def stats(step: int) -> tuple[object, ...]:
        decoder = P1Decoder()
        for pos in range(0, len(data), step):
            decoder.feed(data[pos : pos + step])
        decoder.flush()
        return tuple(decoder.stats.as_dict().values())

    whole = stats(len(data))
    assert whole[2] > 0 and whole[5] > 0  # CRC errors and skipped bytes were seen
    assert stats(1) == stats(7) == stats(4096) == whole
