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
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import NamedTuple

import numpy as np

from edge.blocks.payload import REGISTERS
from edge.grid.allocation.fastpath import EdgeBlock, FastBlock, gather, split_block

BATCH = 2048
Block = tuple[str, str, int, bytes]


class Split(NamedTuple):
    """A batch's blocks split: per block the fast path's fields (or None) and its SHA-256 (b""
    for a neighbour day's `EdgeBlock`: its hash is taken only if the run uses it); `rows`
    holds the readings (registers × boundaries, REGISTERS order) of the day's blocks whose
    arrays have `boundaries` items, `row_of` says which row (−1: none)."""

    blocks: list[FastBlock | EdgeBlock | None]
    shas: list[bytes]
    rows: np.ndarray
    row_of: list[int]


def split_batch(
    coses: list[bytes], day: str, boundaries: int, fast: bool = True,
    edges: Mapping[bytes, int] | None = None,
) -> Split:  # fmt: skip
    """Split one batch (`fast` False: every block goes the generic way).

    Only the blocks of `day` get their readings as numbers: of a neighbour day's block (a day
    in `edges`, see `split_block`) the run reads one boundary, and two thirds of what it reads
    are such blocks.
    """
    blocks = [split_block(c, edges) if fast else None for c in coses]
    shas = [b"" if type(b) is EdgeBlock else hashlib.sha256(c).digest()
            for b, c in zip(blocks, coses, strict=True)]  # fmt: skip
    row_of = [-1] * len(coses)
    specs: list[tuple[int, int, int]] = []
    targets: list[int] = []  # row × len(REGISTERS) + register, per spec
    lists: list[tuple[int, int, list[int | None]]] = []
    count = 0
    for k, block in enumerate(blocks):
        if type(block) is not FastBlock or block.boundaries != boundaries or block.day != day:
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
    blocks: Iterable[Block], day: str, boundaries: int, fast: bool,
    edges: Mapping[bytes, int] | None = None,
) -> Iterator[tuple[list[Block], Split]]:  # fmt: skip
    """(batch, split) in input order."""
    source = iter(blocks)
    while batch := list(islice(source, BATCH)):
        yield batch, split_batch([b[3] for b in batch], day, boundaries, fast, edges)
