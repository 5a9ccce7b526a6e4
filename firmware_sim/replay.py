"""Replay a captured byte stream with its own pacing (from the telegram timestamps) or faster.

Strategy: cut the capture at every '/' (text telegrams) or at DLMS frame boundaries (0xDB);
each piece keeps its exact bytes, garbage included, and is due at the instant its own
`0-0:1.0.0` timestamp names (the S/W letter gives the offset). Pieces without a timestamp
(garbage, truncated telegrams) go out with the previous piece; a capture with no timestamps
at all (DSMR 2.2, encrypted frames) is paced at `interval` seconds per piece.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime

from firmware_sim.dlms import HEADER_LEN, frame_length
from firmware_sim.stream import Telegram

_STAMP = re.compile(rb"0-0:1\.0\.0\((\d{12})([SW]?)\)")


def split_capture(data: bytes) -> list[bytes]:
    """Telegram-sized pieces whose concatenation is exactly `data`."""
    if data[:1] == b"\xdb":
        pieces, pos = [], 0
        while pos < len(data):
            size = frame_length(data[pos:]) if len(data) - pos >= HEADER_LEN else len(data) - pos
            if data[pos] != 0xDB or size <= 0:
                size = len(data) - pos
            pieces.append(data[pos : pos + size])
            pos += size
        return pieces
    cuts = [i for i in range(len(data)) if data[i] == 0x2F]
    if not cuts or cuts[0] != 0:
        cuts.insert(0, 0)
    cuts.append(len(data))
    return [data[a:b] for a, b in itertools.pairwise(cuts) if b > a]


def stamp_epoch(piece: bytes) -> int | None:
    """Epoch seconds of a telegram's `0-0:1.0.0` stamp (S = UTC+2, W/none = UTC+1)."""
    m = _STAMP.search(piece)
    if m is None:
        return None
    try:
        naive = datetime.strptime(m.group(1).decode(), "%y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(naive.timestamp()) - (7200 if m.group(2) == b"S" else 3600)


def replay_items(data: bytes, interval: int = 10) -> Iterator[Telegram]:
    """The capture as paced items; time never runs backwards (a bad stamp keeps the pace)."""
    pieces = split_capture(data)
    stamps = [stamp_epoch(p) for p in pieces]
    known = [s for s in stamps if s is not None]
    t = known[0] if known else 0
    for i, (piece, stamped) in enumerate(zip(pieces, stamps, strict=True)):
        if not known:
            t = i * interval
        elif stamped is not None and t <= stamped <= t + 86_400:
            t = stamped
        yield Telegram("replay", t, piece)
