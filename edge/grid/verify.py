"""The grid operator's verifier of day blocks: envelope, signature, contents, and chain.

Strategy: two passes. The first checks each block on its own (COSE_Sign1 profile, kid and
signature, content type, deterministic payload, counts, times, readings). The second groups the
blocks whose signature verified by (gateway, allocation point), orders them by seq (or keeps
arrival order with `in_order=True`, as a collector would) and checks the chain: seq + 1, prev =
hash of the previous block, days moving forward, registers not dropping across midnight.
Missing seqs are gaps, reported apart from failures: a gap means data not (yet) received, a
failure means data that must not be trusted. The same signed bytes seen twice are a harmless
re-delivery (a note); the same seq with different bytes is a failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import cbor2

from edge.blocks.chain import Link, block_hash, find_gaps, link_problems
from edge.blocks.cose import DAY_CONTENT_TYPE, KeyRing, verify
from edge.blocks.payload import FIRST_SEQ, REGISTERS, decode_payload
from edge.errors import BlockError, SignatureError
from edge.grid.checks import payload_problems


@dataclass(frozen=True, slots=True)
class BlockReport:
    """The verdict on one block; `problems` fail it, `notes` are worth knowing only."""

    source: str
    gw: str | None
    ap: str | None
    seq: int | None
    day: str | None
    n: int | None
    kid: str | None
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is wrong with the block."""
        return not self.problems


@dataclass(frozen=True, slots=True)
class Gap:
    """Seqs `first`..`last` (inclusive) of a chain that are not among the verified blocks."""

    gw: str
    ap: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Reports in input order, and the gaps per (gateway, allocation point)."""

    reports: tuple[BlockReport, ...]
    gaps: tuple[Gap, ...]

    @property
    def failures(self) -> int:
        """Number of blocks with at least one problem."""
        return sum(1 for r in self.reports if r.problems)

    @property
    def ok(self) -> bool:
        """True when every block verified (gaps do not count as failures)."""
        return self.failures == 0


@dataclass(slots=True)
class _Checked:
    # mutable work record of the first pass; the chain pass appends to its lists
    source: str
    data: bytes
    kid: str | None = None
    payload: dict[str, Any] | None = None
    trusted: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def report(self) -> BlockReport:
        p = self.payload or {}
        status = p.get("status")
        return BlockReport(
            source=self.source,
            gw=_text(p.get("gw")),
            ap=_text(p.get("ap")),
            seq=p["seq"] if type(p.get("seq")) is int else None,
            day=_text(p.get("day")),
            n=len(status) if type(status) is list else None,
            kid=self.kid,
            problems=tuple(self.problems),
            notes=tuple(self.notes),
        )


def _text(value: Any) -> str | None:
    return value if type(value) is str else None


def _check_one(source: str, data: bytes, keys: KeyRing) -> _Checked:
    checked = _Checked(source, data)
    try:
        message = verify(data, keys, content_type=DAY_CONTENT_TYPE)
    except (BlockError, SignatureError) as exc:
        checked.problems.append(str(exc))
        return checked
    checked.kid = message.kid.hex()
    try:
        payload = decode_payload(message.payload)
    except BlockError as exc:
        checked.problems.append(str(exc))
        return checked
    checked.payload = payload
    if cbor2.dumps(payload, canonical=True) != message.payload:
        checked.problems.append("payload is not deterministic CBOR (RFC 8949 §4.2)")
    problems, notes = payload_problems(payload)
    checked.problems += problems
    checked.notes += notes
    checked.trusted = _chainable(payload)
    return checked


def _chainable(p: dict[str, Any]) -> bool:
    # a signed block with bad content still occupies its seq: chain it if the links are sane
    seq, prev = p["seq"], p["prev"]
    return (
        type(seq) is int
        and seq >= FIRST_SEQ
        and (prev is None or (type(prev) is bytes and len(prev) == 32))
        and type(p["gw"]) is str
        and type(p["ap"]) is str
    )


def check_block(data: bytes, keys: KeyRing, *, source: str = "") -> BlockReport:
    """Verify one block on its own (no chain checks)."""
    return _check_one(source, data, keys).report()


def verify_blocks(
    blocks: Iterable[tuple[str, bytes]], keys: KeyRing, *, in_order: bool = False
) -> VerifyResult:
    """Verify (source, COSE bytes) pairs and the chain of each (gateway, allocation point).

    With `in_order`, blocks must arrive in seq order per chain (a lower seq after a higher one
    is a failure); otherwise they are sorted by seq first.
    """
    checked = [_check_one(source, data, keys) for source, data in blocks]
    chains: dict[tuple[str, str], list[_Checked]] = {}
    for item in checked:
        if item.trusted and item.payload is not None:
            chains.setdefault((item.payload["gw"], item.payload["ap"]), []).append(item)
    gaps: list[Gap] = []
    for (gw, ap), items in chains.items():
        if not in_order:
            items = sorted(items, key=lambda c: int(c.payload["seq"]) if c.payload else 0)
        seqs = _check_chain(items)
        gaps += [Gap(gw, ap, a, b) for a, b in find_gaps(sorted(seqs), start=FIRST_SEQ)]
    return VerifyResult(tuple(c.report() for c in checked), tuple(gaps))


def _check_chain(items: list[_Checked]) -> set[int]:
    """Chain checks along `items`; returns the set of seqs seen."""
    last: _Checked | None = None
    last_link: Link | None = None
    by_seq: dict[int, _Checked] = {}
    for item in items:
        p = item.payload
        assert p is not None  # only trusted items with payloads are chained
        link = Link(seq=p["seq"], prev=p["prev"], hash=block_hash(item.data))
        earlier = by_seq.get(link.seq)
        if earlier is not None:
            if earlier.data == item.data:
                item.notes.append(f"duplicate of {earlier.source} (same signed bytes)")
            else:
                item.problems.append(
                    f"seq {link.seq} reused with different content than {earlier.source}"
                )
            continue
        by_seq[link.seq] = item
        if last_link is not None and link.seq < last_link.seq:
            item.problems.append(f"out of order: seq {link.seq} after seq {last_link.seq}")
            continue
        item.problems += link_problems(last_link, link)
        if last is not None:
            _check_days(last, item)
        last, last_link = item, link
    return set(by_seq)


def _check_days(last: _Checked, item: _Checked) -> None:
    """Days move forward; on consecutive days of one meter, midnight readings do not drop."""
    a, b = last.payload, item.payload
    assert a is not None and b is not None
    try:
        day_a, day_b = date.fromisoformat(a["day"]), date.fromisoformat(b["day"])
    except (TypeError, ValueError):
        return  # already reported by the content checks
    if day_b < day_a or (day_b == day_a and a["meter"] == b["meter"]):
        item.problems.append(f"day {b['day']} does not follow day {a['day']} of seq {a['seq']}")
    elif day_b == day_a + timedelta(days=1) and a["meter"] == b["meter"]:
        for register in REGISTERS:
            try:
                before, after = a["readings"][register][-1], b["readings"][register][0]
                dropped = before is not None and after is not None and after < before
            except (KeyError, IndexError, TypeError):
                return  # malformed readings: already reported by the content checks
            if dropped:
                item.problems.append(f"{register} drops across midnight from {a['day']}")
