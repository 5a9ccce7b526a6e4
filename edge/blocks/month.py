"""The monthly block (regime "monthly", SPEC §5): one point's register readings of a local month.

A monthly regime reads the registers once a month: the block carries the readings at the first
boundary of the month and at the first boundary of the next, with their status (measured,
interpolated or missing — a month the gateway did not see whole says so). It shares the day
blocks' envelope (COSE_Sign1, Ed25519), deterministic CBOR and hash chain: one chain per
allocation point, whatever the regime. Payload keys, exactly: `v`, `gw`, `ap`, `role`,
`meter`, `month` ("YYYY-MM" local), `tz`, `start`, `end` (UTC), `obis`, `readings` (per
register [start, end] in Wh, null where missing), `status` ([start, end]), `seq`, `prev`,
`created`, `time_sync`, `series`. Content type `application/vnd.p1edge.month+cbor`.

R5 holds for months: `readings` are the month's two edge boundaries, which after a meter change
belong to different meters, so they are no delta. `series` says so explicitly: one entry per
meter series seen in the month, in time order, each `{meter, from, to, readings, status}` with
its own first and last known boundary (`from`/`to` UTC, `readings` per register [first, last],
`status` [first, last]); a month's volume is the sum of the series' deltas, never end − start
across a change. `series` [] (no known boundary, or a builder that states none) and a block from
before `series` existed (no key) are read as one series: end − start must not decrease.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
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
from edge.registers.model import Boundary

MONTH_CONTENT_TYPE: Final = "application/vnd.p1edge.month+cbor"
MONTH_KEYS: Final = frozenset(
    {
        "v", "gw", "ap", "role", "meter", "month", "tz", "start", "end", "obis", "readings",
        "status", "seq", "prev", "created", "time_sync", "series",
    }
)  # fmt: skip
_LEGACY_MONTH_KEYS: Final = MONTH_KEYS - {"series"}  # before meter series were carried apart
SERIES_KEYS: Final = frozenset({"meter", "from", "to", "readings", "status"})
_MONTH_TEXT = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month_span(month: str, tz: str) -> tuple[datetime, datetime]:
    """UTC instants of the local month's first boundary and of the next month's."""
    if not isinstance(month, str) or not _MONTH_TEXT.match(month):
        raise BlockError(f"month {month!r} is not YYYY-MM")
    start, end = month_range(month, ZoneInfo(tz))
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)


@dataclass(frozen=True, slots=True)
class SeriesSpan:
    """One meter series inside a month: its first and last known boundary there."""

    meter: str
    first: datetime  # UTC
    last: datetime
    readings: Mapping[str, tuple[int, int]]  # per register [first, last], Wh
    status: tuple[str, str]

    def problems(self) -> list[str]:
        """What is wrong with the span (empty when it can be signed)."""
        out = []
        if not (isinstance(self.meter, str) and self.meter) or self.first > self.last:
            out.append(f"series {self.meter!r}: a meter and first <= last")
        if set(self.readings) != set(REGISTERS):
            return [*out, f"series {self.meter!r}: readings must map the four registers"]
        for name in REGISTERS:
            pair = self.readings[name]
            if len(pair) != 2 or any(type(v) is not int or v < 0 for v in pair):
                out.append(f"series {self.meter!r} {name}: [first, last] Wh")
            elif pair[1] < pair[0]:
                out.append(f"{name} decreases within the series of meter {self.meter} "
                           f"({pair[0]} -> {pair[1]})")  # fmt: skip
        if len(self.status) != 2 or not set(self.status) <= STATUSES:
            out.append(f"series {self.meter!r}: status two of {sorted(STATUSES)}")
        return out

    def as_cbor(self) -> dict[str, Any]:
        return {
            "meter": self.meter,
            "from": utc_text(self.first),
            "to": utc_text(self.last),
            "readings": {r: list(self.readings[r]) for r in REGISTERS},
            "status": list(self.status),
        }


def series_spans(boundaries: Sequence[Boundary], unknown_meter: str) -> tuple[SeriesSpan, ...]:
    """The meter series among a month's boundaries (time order), each from its first to its
    last boundary with readings; missing boundaries (no readings) belong to none."""
    groups: list[list[Boundary]] = []
    for boundary in boundaries:
        if boundary.registers is None:
            continue
        if groups and groups[-1][-1].series == boundary.series:
            groups[-1].append(boundary)
        else:
            groups.append([boundary])
    spans = []
    for group in groups:
        first, last = group[0], group[-1]
        assert first.registers is not None and last.registers is not None
        spans.append(
            SeriesSpan(
                meter=last.meter or first.meter or unknown_meter,
                first=datetime.fromtimestamp(first.utc, UTC),
                last=datetime.fromtimestamp(last.utc, UTC),
                readings={
                    name: (first.registers[i], last.registers[i])
                    for i, name in enumerate(REGISTERS)
                },
                status=(first.status, last.status),
            )
        )
    return tuple(spans)


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
    series: tuple[SeriesSpan, ...] = ()

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
        start, end = month_span(self.month, self.tz)
        problems = _series_problems(
            [span.as_cbor() for span in self.series], self.readings, start, end
        )
        if problems:
            raise BlockError("; ".join(problems))


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
        "series": [span.as_cbor() for span in readings.series],
    }
    return cbor2.dumps(body, canonical=True)


def decode_month_payload(data: bytes) -> dict[str, Any]:
    """Decode a monthly payload and check its outline (exact keys, version)."""
    try:
        decoded = strict_loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise BlockError(f"payload is not valid CBOR: {exc}") from exc
    if type(decoded) is not dict or decoded.keys() not in (MONTH_KEYS, _LEGACY_MONTH_KEYS):
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
    series = d.get("series")
    if series is not None:
        problems += _series_problems(series, readings, start, end)
    across = series is not None and type(series) is list and len(series) > 1
    for name in REGISTERS:
        pair = readings[name]
        if len(pair) != 2 or any(v is not None and (type(v) is not int or v < 0) for v in pair):
            problems.append(f"{name}: [start, end] Wh or null")
        elif not across and None not in pair and pair[1] < pair[0]:
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


def _series_problems(
    series: object, readings: Mapping[str, Any], start: datetime, end: datetime
) -> list[str]:
    """`series` in time order inside the month, each monotonic, and the month's edge readings
    equal to the first series' first and the last series' last reading where known."""
    if type(series) is not list:
        return ["series must be a list"]
    spans = []
    for entry in series:
        span = _span_of(entry)
        if span is None:
            return ["series: entries of meter, from, to, readings, status"]
        spans.append(span)
    problems = [p for span in spans for p in span.problems()]
    if problems:
        return problems
    if any(span.first < start or span.last > end for span in spans):
        problems.append("series: a span outside the month")
    if any(a.last >= b.first for a, b in pairwise(spans)):
        problems.append("series: spans overlap or are out of order")
    if not spans:  # none stated: the edges are read as one series (the legacy meaning)
        return problems
    for which, at, edge in (("start", start, 0), ("end", end, 1)):
        known = [_edge_value(readings.get(name), edge) for name in REGISTERS]
        if None in known:
            continue
        span = (spans[0] if edge == 0 else spans[-1]) if spans else None
        if (
            span is None
            or (span.first if edge == 0 else span.last) != at
            or known != [span.readings[name][edge] for name in REGISTERS]
        ):
            problems.append(f"readings at the month's {which} are not those of its series")
    return problems


def _edge_value(pair: object, edge: int) -> object:
    return pair[edge] if isinstance(pair, list | tuple) and len(pair) == 2 else None


def _span_of(entry: object) -> SeriesSpan | None:
    if type(entry) not in CBOR_MAPS or not isinstance(entry, Mapping) or set(entry) != SERIES_KEYS:
        return None
    try:
        readings = entry["readings"]
        if type(readings) not in CBOR_MAPS:
            return None
        first = datetime.fromisoformat(entry["from"])
        last = datetime.fromisoformat(entry["to"])
        if first.tzinfo is None or last.tzinfo is None:
            return None
        if (utc_text(first), utc_text(last)) != (entry["from"], entry["to"]):
            return None  # one spelling per instant
        return SeriesSpan(
            meter=entry["meter"],
            first=first,
            last=last,
            readings={k: tuple(v) for k, v in readings.items()},
            status=tuple(entry["status"]),
        )
    except (TypeError, ValueError, AttributeError, KeyError):
        return None
