"""The per-block part of the decode, a batch of blocks at a time.

Strategy: what each block costs on its own — the fast path's split, its SHA-256 and its
readings as numbers — does not depend on any other block, so it runs over batches of `BATCH`
blocks (`split_batch`): the readings of a whole batch become numbers in one array operation
(`fastpath.gather`). The decoder then takes the blocks in input order, judging each against the
registry and the blocks before it. A block the fast path does not take comes back as None and
the decoder's generic path gives it its words.

Worker processes were measured for this split and not kept: on the 2-core machine, shared with
other work, 2 workers made the decode slower (README, the allocation run's engine).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import NamedTuple

import numpy as np

from edge.blocks.payload import REGISTERS
from edge.grid.allocation.fastpath import FastBlock, gather, split_block

BATCH = 2048
Block = tuple[str, str, int, bytes]


class Split(NamedTuple):
    """A batch's blocks split: per block the fast path's fields (or None) and its SHA-256;
    `rows` holds the readings (registers × boundaries, REGISTERS order) of the day's blocks
    whose arrays have `boundaries` items, `row_of` says which row (−1: none)."""

    blocks: list[FastBlock | None]
    shas: list[bytes]
    rows: np.ndarray
    row_of: list[int]


def split_batch(coses: list[bytes], day: str, boundaries: int, fast: bool = True) -> Split:
    """Split one batch (`fast` False: every block goes the generic way).

    Only the blocks of `day` get their readings as numbers: of a neighbour day's block the run
    reads one boundary (`FastBlock.reading`), and two thirds of what it reads are such blocks.
    """
    blocks: list[FastBlock | None] = [split_block(c) if fast else None for c in coses]
    shas = [hashlib.sha256(c).digest() for c in coses]
    row_of = [-1] * len(coses)
    specs: list[tuple[int, int, int]] = []
    targets: list[int] = []  # row × len(REGISTERS) + register, per spec
    lists: list[tuple[int, int, list[int | None]]] = []
    count = 0
    for k, block in enumerate(blocks):
        if block is None or block.boundaries != boundaries or block.day != day:
            continue
        row_of[k] = count
        for r, spec in enumerate(block.readings):
            if isinstance(spec, list):  # nulls or mixed widths: parsed already
                lists.append((count, r, spec))
            else:
                specs.append((k, *spec))
                targets.append(count * len(REGISTERS) + r)
        count += 1
    rows = np.empty((count * len(REGISTERS), boundaries))
    rows[targets] = gather(coses, specs, boundaries)
    rows = rows.reshape(count, len(REGISTERS) * boundaries)
    for row, r, values in lists:
        rows[row, r * boundaries : (r + 1) * boundaries] = values  # None -> nan
    return Split(blocks, shas, rows, row_of)


def split_batches(
    blocks: Iterable[Block], day: str, boundaries: int, fast: bool
) -> Iterator[tuple[list[Block], Split]]:
    """(batch, split) in input order."""
    source = iter(blocks)
    while batch := list(islice(source, BATCH)):
        yield batch, split_batch([b[3] for b in batch], day, boundaries, fast)
