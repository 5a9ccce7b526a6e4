"""The hash chain of day blocks per (gateway, allocation point).

Strategy: block k+1 carries `seq` = k's seq + 1 and `prev` = SHA-256 of k's COSE bytes (the
exact bytes sent, which is why they are never re-serialised). A gap (seqs that never arrived)
is not a forgery: it is reported separately, and the `prev` of the block after a gap cannot be
checked because the block it points to is missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from edge.blocks.payload import FIRST_SEQ


def block_hash(cose_bytes: bytes) -> bytes:
    """SHA-256 of a block's COSE bytes: what the next block's `prev` must be."""
    return hashlib.sha256(cose_bytes).digest()


@dataclass(frozen=True, slots=True)
class Link:
    """What the chain needs to know of one block."""

    seq: int
    prev: bytes | None
    hash: bytes


def link_problems(last: Link | None, current: Link) -> list[str]:
    """Problems linking `current` after `last` (the previous block seen, or None).

    A jump forward in seq is a gap, not a problem here (see `find_gaps`).
    """
    if current.seq == FIRST_SEQ:
        return [] if current.prev is None else ["first block (seq 1) has a prev hash"]
    if current.prev is None:
        return [f"seq {current.seq} has no prev hash; only seq {FIRST_SEQ} may"]
    if last is None or current.seq != last.seq + 1:
        return []  # predecessor not at hand: cannot check prev
    if current.prev != last.hash:
        return [f"prev does not match the hash of seq {last.seq}"]
    return []


def find_gaps(seqs: Iterable[int], *, start: int | None = None) -> list[tuple[int, int]]:
    """Missing seq ranges (first, last inclusive) in ascending `seqs`.

    With `start` (e.g. `FIRST_SEQ`) a missing beginning of the chain counts as a gap too.
    """
    gaps: list[tuple[int, int]] = []
    expected = start
    for seq in seqs:
        if expected is not None and seq > expected:
            gaps.append((expected, seq - 1))
        expected = seq + 1 if expected is None else max(expected, seq + 1)
    return gaps
