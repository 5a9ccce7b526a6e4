"""Framer edge cases from the field: stray 0xDB bytes in plaintext, captures ending at `!`."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
from pathlib import Path

import pytest

from edge.p1 import P1Decoder, Rejected, Telegram, decode
from edge.p1.framer import Framer, PlainFrame
from tests.conftest import DATA, fixture_bytes

# 14 bytes that look like a DLMS general-global-cipher header announcing 16 368 bytes:
# tag, system-title length 8, title, 0x82 + two length bytes, security control 0x30.
STRAY = b"\xdb\x08SAGxxxxx\x82\x3f\xf0\x30"


def dsmr5_stream(seconds: int = 272) -> bytes:
    from firmware_sim.api import render

    return render("dsmr5", start="2026-06-01T00:00:00+02:00", duration=f"{seconds}s").data


def telegrams_of(events: list[object]) -> list[Telegram]:
    return [e for e in events if isinstance(e, Telegram)]


@pytest.fixture(scope="module")
def stream_with_stray_bytes() -> tuple[bytes, int]:
    data = dsmr5_stream()
    count = len(decode(data))
    assert count == 272
    cut = data.index(b"/", len(data) // 3)
    return data[:cut] + STRAY + data[cut:], count


@pytest.mark.parametrize("dialect", ["dsmr5", "auto"])
def test_stray_dlms_like_bytes_in_plaintext_lose_nothing(
    stream_with_stray_bytes: tuple[bytes, int], dialect: str
) -> None:
    data, count = stream_with_stray_bytes
    decoder = P1Decoder(dialect=dialect)
    events = decoder.feed(data) + decoder.end_of_input()
    assert len(telegrams_of(events)) == count
    assert not [e for e in events if isinstance(e, Rejected)]
    assert decoder.stats.skipped_bytes == len(STRAY)


def test_a_plaintext_dialect_never_waits_for_a_dlms_frame() -> None:
    """Even as the very first bytes of a stream (nothing learned yet)."""
    v5 = fixture_bytes("v5.txt")
    decoder = P1Decoder(dialect="dsmr5")
    assert len(telegrams_of(decoder.feed(STRAY + v5))) == 1
    assert decoder.stats.skipped_bytes == len(STRAY)


def test_an_encrypted_dialect_still_frames_dlms() -> None:
    frame = (DATA / "encrypted" / "sagemcom_t210_d_r_gcm.bin").read_bytes()
    key = bytes.fromhex("AA" * 16)
    for dialect in ("sagemcom", "auto"):
        decoder = P1Decoder(key=key, dialect=dialect)
        got = telegrams_of(decoder.feed(b"\x00" + frame + frame) + decoder.end_of_input())
        assert [t.registers.import_total for t in got] == [6_545_766, 6_545_766]


def test_decode_cli_keeps_every_telegram_around_stray_bytes(
    stream_with_stray_bytes: tuple[bytes, int], tmp_path: Path
) -> None:
    data, count = stream_with_stray_bytes
    capture = tmp_path / "stray.p1"
    capture.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "edge", "decode", "--stats", str(capture)],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["telegrams"] == count


def test_decode_cli_goes_on_after_an_undecryptable_frame(tmp_path: Path) -> None:
    """One bad encrypted frame is counted and reported, the rest of the file is decoded."""
    frame = (DATA / "encrypted" / "sagemcom_t210_d_r_gcm.bin").read_bytes()
    capture = tmp_path / "mixed.p1"
    capture.write_bytes(frame + fixture_bytes("v5.txt") + fixture_bytes("v4_2.txt"))
    result = subprocess.run(
        [sys.executable, "-m", "edge", "decode", "--json", str(capture)],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert b"1 frame" in result.stderr and len(result.stderr.splitlines()) == 1


# -- end of input ---------------------------------------------------------------------------


def test_a_capture_ending_right_after_the_bang_is_a_telegram() -> None:
    v22 = fixture_bytes("v2_2.txt").rstrip(b"\r\n")
    assert v22.endswith(b"!")
    (telegram,) = decode(v22)
    assert telegram.crc == "none" and telegram.registers.import_t1 == 1001
    framer = Framer()
    assert framer.feed(v22) == []  # live: the CRC may still be on its way
    (frame,) = framer.end_of_input()
    assert isinstance(frame, PlainFrame) and frame.crc_text == b""


def test_end_of_input_keeps_a_short_crc_and_the_crc_still_decides() -> None:
    unpadded = fixture_bytes("unpadded_crc.txt").rstrip(b"\r\n")  # ends `!B9F`
    assert decode(unpadded)[0].crc == "ok"
    wrong = unpadded[:-1] + (b"E" if unpadded[-1:] != b"E" else b"D")
    decoder = P1Decoder()
    events = decoder.feed(wrong) + decoder.end_of_input()
    assert [e.reason for e in events if isinstance(e, Rejected)] == ["crc"]


def test_a_lost_connection_is_not_an_end_of_input() -> None:
    """`flush` (cable pulled) reports the cut frame; only a real end of input completes it."""
    v22 = fixture_bytes("v2_2.txt").rstrip(b"\r\n")
    decoder = P1Decoder(dialect="dsmr22")
    events = decoder.feed(v22) + decoder.flush()
    assert [type(e) for e in events] == [Rejected]


def test_a_dsmr5_capture_without_its_crc_is_still_rejected_at_the_end() -> None:
    v5 = fixture_bytes("v5.txt")
    cut = v5[: v5.index(b"!") + 1]
    decoder = P1Decoder(dialect="dsmr5", require_crc=True)
    events = decoder.feed(v5 + cut) + decoder.end_of_input()
    assert [e.reason for e in events if isinstance(e, Rejected)] == ["missing-crc"]


def test_file_source_and_decode_cli_complete_the_last_telegram(tmp_path: Path) -> None:
    from edge.adapters.file_source import FileSource
    from edge.adapters.source_base import SourceBatch

    capture = tmp_path / "v22.p1"
    capture.write_bytes(fixture_bytes("v2_2.txt") + fixture_bytes("v2_2.txt").rstrip(b"\r\n"))
    sink: queue.Queue[SourceBatch] = queue.Queue()
    source = FileSource("main", f"file:{capture}", sink, dialect="dsmr22")
    source.start()
    assert source.eof_event.wait(60)
    got: list[Telegram] = []
    while not sink.empty():
        got += telegrams_of(list(sink.get_nowait().events))
    assert source.stop()
    assert len(got) == 2 and source.status().errors == 0
    result = subprocess.run(
        [sys.executable, "-m", "edge", "decode", "--stats", str(capture)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert json.loads(result.stdout)["telegrams"] == 2
