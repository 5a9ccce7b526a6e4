"""The monthly block (regime "monthly", SPEC §5): one point's register readings of a local month.

A monthly regime reads the registers once a month: the block carries the readings at the first
boundary of the month and at the first boundary of the next, with their status (measured,
interpolated or missing — a month the gateway did not see whole says so). It shares the day
blocks' envelope (COSE_Sign1, Ed25519), deterministic CBOR and hash chain: one chain per
allocation point, whatever the regime. Payload keys, exactly: `v`, `gw`, `ap`, `role`,
`meter`, `month` ("YYYY-MM" local), `tz`, `start`, `end` (UTC), `obis`, `readings` (per
register [start, end] in Wh, null where missing), `status` ([start, end]), `seq`, `prev`,
`created`, `time_sync`. Content type `application/vnd.p1edge.month+cbor`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import cbor2

from edge.blocks.cborcompat import CBOR_MAPS, strict_loads
from edge.blocks.days import utc_text
from edge.blocks.payload import (
    FIRST_SEQ,
    FORMAT_VERSION,
    HASH_SIZE,
    OBIS,
    REGISTERS,
    ROLES,
    STATUSES,
    TIME_SYNC_SOURCES,
)
from edge.errors import BlockError
from edge.registers.capacity import month_range

MONTH_CONTENT_TYPE: Final = "application/vnd.p1edge.month+cbor"
MONTH_KEYS: Final = frozenset(
    {
        "v", "gw", "ap", "role", "meter", "month", "tz", "start", "end", "obis", "readings",
        "status", "seq", "prev", "created", "time_sync",
    }
)  # fmt: skip
_MONTH_TEXT = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month_span(month: str, tz: str) -> tuple[datetime, datetime]:
    """UTC instants of the local month's first boundary and of the next month's."""
    if not isinstance(month, str) or not _MONTH_TEXT.match(month):
        raise BlockError(f"month {month!r} is not YYYY-MM")
    start, end = month_range(month, ZoneInfo(tz))
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)


@dataclass(frozen=True, slots=True)
class MonthReadings:
    """The content of a monthly block, checked when built."""

    gw: str
    ap: str
    role: str
    meter: str
    month: str
    tz: str
    readings: Mapping[str, tuple[int | None, int | None]]
    status: tuple[str, str]

    def __post_init__(self) -> None:
        if not all(isinstance(v, str) and v for v in (self.gw, self.ap, self.meter)):
            raise BlockError("gw, ap and meter must be non-empty text")
        if self.role not in ROLES:
            raise BlockError(f"role {self.role!r} is not one of {sorted(ROLES)}")
        month_span(self.month, self.tz)
        if set(self.readings) != set(REGISTERS) or any(
            len(pair) != 2 or any(v is not None and (type(v) is not int or v < 0) for v in pair)
            for pair in self.readings.values()
        ):
            raise BlockError("readings: per register [start, end], non-negative Wh or null")
        if len(self.status) != 2 or not set(self.status) <= STATUSES:
            raise BlockError(f"status {self.status!r}: two of {sorted(STATUSES)}")


def encode_month_payload(
    readings: MonthReadings, *, seq: int, prev: bytes | None, created: datetime, time_sync: str
) -> bytes:
    """Deterministic CBOR of a monthly block (chain rules as for day blocks)."""
    if type(seq) is not int or seq < FIRST_SEQ or (prev is None) != (seq == FIRST_SEQ):
        raise BlockError("seq/prev: the first block has seq 1 and prev null, each next +1")
    if prev is not None and len(prev) != HASH_SIZE:
        raise BlockError("prev must be a 32-byte SHA-256")
    if time_sync not in TIME_SYNC_SOURCES:
        raise BlockError(f"time_sync {time_sync!r} is not one of {sorted(TIME_SYNC_SOURCES)}")
    start, end = month_span(readings.month, readings.tz)
    if created < end:
        raise BlockError(f"created {utc_text(created)} is before the end of {readings.month}")
    body = {
        "v": FORMAT_VERSION,
        "gw": readings.gw,
        "ap": readings.ap,
        "role": readings.role,
        "meter": readings.meter,
        "month": readings.month,
        "tz": readings.tz,
        "start": utc_text(start),
        "end": utc_text(end),
        "obis": list(OBIS),
        "readings": {r: list(readings.readings[r]) for r in REGISTERS},
        "status": list(readings.status),
        "seq": seq,
        "prev": prev,
        "created": utc_text(created),
        "time_sync": time_sync,
    }
    return cbor2.dumps(body, canonical=True)


def decode_month_payload(data: bytes) -> dict[str, Any]:
    """Decode a monthly payload and check its outline (exact keys, version)."""
    try:
        decoded = strict_loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise BlockError(f"payload is not valid CBOR: {exc}") from exc
    if type(decoded) is not dict or decoded.keys() != MONTH_KEYS:
        raise BlockError("monthly payload keys wrong")
    if decoded["v"] != FORMAT_VERSION:
        raise BlockError(f"unsupported payload version {decoded['v']!r}")
    return decoded


def month_problems(d: Mapping[str, Any]) -> list[str]:
    """The verifier's content checks of a decoded monthly payload."""
    problems = []
    try:
        start, end = month_span(d["month"], d["tz"])
    except (BlockError, KeyError, ValueError) as exc:
        return [f"month/tz unusable: {exc}"]
    if d["start"] != utc_text(start) or d["end"] != utc_text(end):
        problems.append(f"start/end are not the local month {d['month']} in {d['tz']}")
    if d["role"] not in ROLES or d["obis"] not in (list(OBIS), OBIS):
        problems.append("role or obis wrong")
    readings = d["readings"]
    if type(readings) not in CBOR_MAPS or set(readings) != set(REGISTERS):
        return [*problems, "readings must map the four registers"]
    for name in REGISTERS:
        pair = readings[name]
        if len(pair) != 2 or any(v is not None and (type(v) is not int or v < 0) for v in pair):
            problems.append(f"{name}: [start, end] Wh or null")
        elif None not in pair and pair[1] < pair[0]:
            problems.append(f"{name} decreases over the month ({pair[0]} -> {pair[1]})")
    if list(d["status"]) not in [[a, b] for a in STATUSES for b in STATUSES]:
        problems.append(f"status {d['status']!r}: two of {sorted(STATUSES)}")
    try:
        created = datetime.fromisoformat(d["created"])
        if created < end:
            problems.append(f"created {d['created']} is before the month ended")
    except (TypeError, ValueError):
        problems.append(f"created {d['created']!r} is not a UTC time")
    return problems
