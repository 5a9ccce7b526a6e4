"""Hash chain helpers."""

from __future__ import annotations

import hashlib

from edge.blocks.chain import Link, block_hash, find_gaps, link_problems

H1, H2 = block_hash(b"one"), block_hash(b"two")


def test_block_hash_is_sha256_of_the_bytes() -> None:
    assert block_hash(b"one") == hashlib.sha256(b"one").digest()
    assert len(H1) == 32


def test_links() -> None:
    first = Link(seq=1, prev=None, hash=H1)
    second = Link(seq=2, prev=H1, hash=H2)
    assert link_problems(None, first) == []
    assert link_problems(first, second) == []
    assert link_problems(first, Link(seq=2, prev=H2, hash=H2)) == [
        "prev does not match the hash of seq 1"
    ]
    assert link_problems(None, Link(seq=1, prev=H1, hash=H1)) != []
    assert link_problems(first, Link(seq=2, prev=None, hash=H2)) != []
    # after a gap the predecessor is unknown: nothing to hold against the block
    assert link_problems(first, Link(seq=5, prev=H2, hash=H2)) == []


def test_gaps() -> None:
    assert find_gaps([1, 2, 3]) == []
    assert find_gaps([1, 2, 5, 6, 9]) == [(3, 4), (7, 8)]
    assert find_gaps([3, 4], start=1) == [(1, 2)]
    assert find_gaps([3, 4]) == []
    assert find_gaps([1, 1, 2]) == []
    assert find_gaps([], start=1) == []
