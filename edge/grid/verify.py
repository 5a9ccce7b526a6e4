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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple

import cbor2

from edge.blocks.cborcompat import CBOR_MAPS
from edge.blocks.chain import Link, block_hash, find_gaps, link_problems
from edge.blocks.cose import DAY_CONTENT_TYPE, KeyRing, VerifiedMessage, verify
from edge.blocks.month import MONTH_CONTENT_TYPE, decode_month_payload, month_problems
from edge.blocks.payload import (
    FIRST_SEQ,
    HASH_SIZE,
    PAYLOAD_KEYS,
    REGISTERS,
    decode_payload,
)
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
    prev: bytes | None = None  # the signed `prev` link, for a store's chain checks
    kind: str = "day"  # "day" or "month" (by content type)
    hash: bytes | None = None  # SHA-256 of the COSE bytes (computed once, for the store)

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


class _Summary(NamedTuple):
    # what the chain pass needs of a block; the decoded payload itself is dropped right after
    # the content checks, so thousands of blocks do not keep millions of objects alive
    # (a NamedTuple: built thousands of times a second, it is cheaper than a dataclass)
    gw: str
    ap: str
    seq: int
    prev: bytes | None
    day: str
    meter: Any
    first: tuple[Any, ...]
    last: tuple[Any, ...]
    hash: bytes


@dataclass(slots=True)
class _Checked:
    # mutable work record of the first pass; the chain pass appends to its lists
    source: str
    problems: list[str]
    notes: list[str]
    kid: str | None = None
    summary: _Summary | None = None  # set only for signed blocks whose chain fields are sane
    day: str | None = None
    n: int | None = None
    kind: str = "day"

    def report(self) -> BlockReport:
        s = self.summary
        return BlockReport(
            source=self.source,
            gw=s.gw if s else None,
            ap=s.ap if s else None,
            seq=s.seq if s else None,
            day=self.day,
            n=self.n,
            kid=self.kid,
            problems=tuple(self.problems),
            notes=tuple(self.notes),
            prev=s.prev if s else None,
            kind=self.kind,
            hash=s.hash if s else None,
        )


def _canonical_order(keys: Iterable[str]) -> list[str]:
    # RFC 8949 §4.2.1: keys sorted by their encoded bytes; for short text that is (length, bytes)
    return sorted(keys, key=lambda k: (len(k.encode()), k.encode()))


_KEY_ORDER = _canonical_order(PAYLOAD_KEYS)
_REGISTER_ORDER = _canonical_order(REGISTERS)


def _encoding_problem(payload: Mapping[str, Any], signed: bytes, strict: bool) -> str | None:
    """Is the signed payload deterministic CBOR? Full re-encode only when `strict`.

    The full check costs about as much as the signature check; the signature already pins the
    bytes, so by default only the likely mistake of a foreign encoder is checked: map key order
    (cbor2 keeps the decoded order).
    """
    if strict:
        deterministic = cbor2.dumps(payload, canonical=True) == signed
    else:
        readings = payload["readings"]
        deterministic = list(payload) == _KEY_ORDER and (
            type(readings) not in CBOR_MAPS or list(readings) == _REGISTER_ORDER
        )
    return None if deterministic else "payload is not deterministic CBOR (RFC 8949 §4.2.1)"


def _check_one(
    source: str,
    data: bytes,
    keys: KeyRing,
    strict: bool = False,
    gateway_kids: Mapping[str, bytes] | None = None,
) -> _Checked:
    try:
        message = verify(data, keys)
        if message.content_type == MONTH_CONTENT_TYPE:
            return _check_month(source, data, message, gateway_kids)
        if message.content_type != DAY_CONTENT_TYPE:
            raise BlockError(f"content type {message.content_type!r} is no day or month block")
        payload = decode_payload(message.payload)
    except (BlockError, SignatureError) as exc:
        return _Checked(source, [str(exc)], [])
    problems, notes = payload_problems(payload)
    encoding_problem = _encoding_problem(payload, message.payload, strict)
    if encoding_problem:
        problems.append(encoding_problem)
    gw = payload["gw"]
    if gateway_kids is not None and (type(gw) is not str or gateway_kids.get(gw) != message.kid):
        # any registered key signs validly; only the gateway's own may sign for that gateway
        problems.append(f"kid {message.kid.hex()} is not the key of gateway {gw!r}")
    day, status = payload["day"], payload["status"]
    return _Checked(
        source,
        problems,
        notes,
        kid=message.kid.hex(),
        summary=_summarise(payload, data),
        day=day if type(day) is str else None,
        n=len(status) if type(status) in (list, tuple) else None,
    )


def _check_month(
    source: str, data: bytes, message: VerifiedMessage, gateway_kids: Mapping[str, bytes] | None
) -> _Checked:
    """A monthly block (regime "monthly"): its own content checks, the same chain."""
    payload = decode_month_payload(message.payload)
    problems = month_problems(payload)
    if cbor2.dumps(payload, canonical=True) != message.payload:
        problems.append("payload is not deterministic CBOR (RFC 8949 §4.2.1)")
    gw = payload["gw"]
    if gateway_kids is not None and (type(gw) is not str or gateway_kids.get(gw) != message.kid):
        problems.append(f"kid {message.kid.hex()} is not the key of gateway {gw!r}")
    month = payload["month"]
    return _Checked(
        source,
        problems,
        [],
        kid=message.kid.hex(),
        summary=_summarise({**payload, "day": month}, data),
        day=month if type(month) is str else None,
        kind="month",
    )


def _summarise(p: Mapping[str, Any], data: bytes) -> _Summary | None:
    """The chain fields, or None if they are too broken to place the block in a chain."""
    # a signed block with bad content still occupies its seq: chain it if the links are sane
    seq, prev, gw, ap, day = p["seq"], p["prev"], p["gw"], p["ap"], p["day"]
    if type(seq) is not int or seq < FIRST_SEQ or type(gw) is not str or type(ap) is not str:
        return None
    if prev is not None and (type(prev) is not bytes or len(prev) != HASH_SIZE):
        return None
    first: tuple[Any, ...]
    last: tuple[Any, ...]
    try:
        r = p["readings"]  # the order of REGISTERS
        first = (r["import_t1"][0], r["import_t2"][0], r["export_t1"][0], r["export_t2"][0])
        last = (r["import_t1"][-1], r["import_t2"][-1], r["export_t1"][-1], r["export_t2"][-1])
    except (KeyError, IndexError, TypeError):
        first = last = ()
    return _Summary(gw, ap, seq, prev, day, p["meter"], first, last, block_hash(data))


def check_block(
    data: bytes,
    keys: KeyRing,
    *,
    source: str = "",
    strict_encoding: bool = False,
    gateway_kids: Mapping[str, bytes] | None = None,
) -> BlockReport:
    """Verify one block on its own (no chain checks); see `verify_blocks`."""
    return _check_one(source, data, keys, strict_encoding, gateway_kids).report()


def verify_blocks(
    blocks: Iterable[tuple[str, bytes]],
    keys: KeyRing,
    *,
    in_order: bool = False,
    strict_encoding: bool = False,
    gateway_kids: Mapping[str, bytes] | None = None,
) -> VerifyResult:
    """Verify (source, COSE bytes) pairs and the chain of each (gateway, allocation point).

    With `in_order`, blocks must arrive in seq order per chain (a lower seq after a higher one
    is a failure); otherwise they are sorted by seq first. With `strict_encoding`, the payload
    is re-encoded to prove it is deterministic CBOR byte for byte (about 25 % slower). With
    `gateway_kids` (gateway id -> kid), a block must be signed by its own gateway's key.
    """
    checked = [
        _check_one(source, data, keys, strict_encoding, gateway_kids) for source, data in blocks
    ]
    chains: dict[tuple[str, str], list[_Checked]] = {}
    for item in checked:
        if item.summary is not None:
            chains.setdefault((item.summary.gw, item.summary.ap), []).append(item)
    gaps: list[Gap] = []
    for (gw, ap), items in chains.items():
        if not in_order:
            items = sorted(items, key=lambda c: c.summary.seq if c.summary else 0)
        seqs = _check_chain(items)
        gaps += [Gap(gw, ap, a, b) for a, b in find_gaps(sorted(seqs), start=FIRST_SEQ)]
    return VerifyResult(tuple(c.report() for c in checked), tuple(gaps))


def _check_chain(items: list[_Checked]) -> set[int]:
    """Chain checks along `items` (all with a summary); returns the set of seqs seen."""
    last: _Summary | None = None
    by_seq: dict[int, _Checked] = {}
    for item in items:
        s = item.summary
        assert s is not None  # only summarised items are chained
        earlier = by_seq.get(s.seq)
        if earlier is not None:
            if earlier.summary is not None and earlier.summary.hash == s.hash:
                item.notes.append(f"duplicate of {earlier.source} (same signed bytes)")
            else:
                item.problems.append(f"seq {s.seq} reused with other content than {earlier.source}")
            continue
        by_seq[s.seq] = item
        if last is not None and s.seq < last.seq:
            item.problems.append(f"out of order: seq {s.seq} after seq {last.seq}")
            continue
        link = Link(seq=s.seq, prev=s.prev, hash=s.hash)
        last_link = Link(seq=last.seq, prev=last.prev, hash=last.hash) if last else None
        item.problems += link_problems(last_link, link)
        if last is not None:
            item.problems += _day_problems(last, s)
        last = s
    return set(by_seq)


def _day_problems(a: _Summary, b: _Summary) -> list[str]:
    """Days move forward; on consecutive days of one meter, midnight readings do not drop."""
    try:
        day_a, day_b = date.fromisoformat(a.day), date.fromisoformat(b.day)
    except (TypeError, ValueError):
        return []  # already reported by the content checks
    if day_b < day_a or (day_b == day_a and a.meter == b.meter):
        return [f"day {b.day} does not follow day {a.day} of seq {a.seq}"]
    if day_b != day_a + timedelta(days=1) or a.meter != b.meter:
        return []
    return [
        f"{register} drops across midnight after {a.day}"
        for register, before, after in zip(REGISTERS, a.last, b.first, strict=False)
        if type(before) is int and type(after) is int and after < before
    ]
