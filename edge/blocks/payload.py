"""The day-block payload: one allocation point's boundary readings of one local day.

Strategy: everything is checked when a `DayReadings` is built, so that `encode_payload` can only
ever produce a well-formed block; the bytes come from cbor2's canonical mode (RFC 8949 §4.2.1
core deterministic encoding: shortest lengths, map keys sorted by their encoded bytes), so the
same readings always give the same bytes. Nothing here reads a clock: `created` is an argument.

`time_sync` says where the gateway's notion of time came from when the block was made:
``"ntp"`` (system clock synchronised by NTP), ``"meter"`` (time taken from the meter's telegram
timestamps, e.g. replaying a capture), ``"none"`` (clock not known to be synchronised).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

import cbor2

from edge.blocks.cborcompat import strict_loads
from edge.blocks.days import STEP_SECONDS, VALID_INTERVAL_COUNTS, day_layout, utc_text
from edge.errors import BlockError

FORMAT_VERSION = 1
FIRST_SEQ = 1  # the first block of a chain has seq 1 and prev null; each next block is +1
HASH_SIZE = 32
REGISTERS = ("import_t1", "import_t2", "export_t1", "export_t2")
OBIS = ("1-0:1.8.1", "1-0:1.8.2", "1-0:2.8.1", "1-0:2.8.2")  # same order as REGISTERS
ROLES = frozenset({"primary", "secondary"})
STATUSES = frozenset({"measured", "interpolated", "missing"})
KNOWN_FLAGS = frozenset(
    {"capacity_exceeded", "register_decreased", "meter_changed", "clock_skew", "power_failure"}
    | {"secondary_exceeds_primary"}  # R7 (SPEC §4), in the blocks of the points it concerns
)
TIME_SYNC_SOURCES = frozenset({"ntp", "meter", "none"})
PAYLOAD_KEYS = frozenset(
    {
        "v", "gw", "ap", "role", "meter", "day", "tz", "start", "step", "obis",
        "readings", "status", "flags", "seq", "prev", "created", "time_sync",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DayReadings:
    """One meter's boundary readings (Wh) and interval status of one local day.

    `readings` maps each of `REGISTERS` to n+1 boundary readings (None where missing); `status`
    and `flags` have one entry per interval; n is 92, 96 or 100 and must match `day` in `tz`.
    `start` is the day's first interval start (local midnight) as an aware UTC datetime.
    Flags are stored sorted and de-duplicated so equal content always encodes to equal bytes.
    """

    gw: str
    ap: str
    role: str
    meter: str
    day: date
    tz: str
    start: datetime
    readings: Mapping[str, tuple[int | None, ...]]
    status: tuple[str, ...]
    flags: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        for name in ("gw", "ap", "meter"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise BlockError(f"DayReadings.{name} must be a non-empty string")
        if self.role not in ROLES:
            raise BlockError(f"DayReadings.role {self.role!r} is not one of {sorted(ROLES)}")
        if type(self.day) is not date or not isinstance(self.tz, str):
            raise BlockError("DayReadings.day must be a date and tz a zone name")
        n = len(self.status)
        if n not in VALID_INTERVAL_COUNTS:
            raise BlockError(f"{n} intervals; a day block has one of {VALID_INTERVAL_COUNTS}")
        expected_start, expected_n = day_layout(self.day, self.tz)
        if n != expected_n:
            raise BlockError(f"{self.day} in {self.tz} has {expected_n} intervals, got {n}")
        # utcoffset() first: comparing a naive datetime with an aware one raises TypeError
        if self.start.utcoffset() != timedelta(0) or self.start != expected_start:
            raise BlockError(f"start {self.start!r} is not local midnight {expected_start} (UTC)")
        bad_status = set(self.status) - STATUSES
        if bad_status:
            raise BlockError(f"unknown interval status {sorted(bad_status)}")
        if len(self.flags) != n:
            raise BlockError(f"{len(self.flags)} flag entries for {n} intervals")
        object.__setattr__(self, "readings", _checked_readings(self.readings, n))
        flags = tuple(self.flags)
        if flags.count(()) != n:  # most days carry no flag at all: nothing to check then
            flags = tuple(_checked_flags(f) for f in flags)
        object.__setattr__(self, "flags", flags)
        object.__setattr__(self, "status", tuple(self.status))

    @property
    def n(self) -> int:
        """Number of quarter-hour intervals of the day (92, 96 or 100)."""
        return len(self.status)


def _checked_readings(readings: Mapping[str, Any], n: int) -> Mapping[str, tuple[int | None, ...]]:
    if set(readings) != set(REGISTERS):
        raise BlockError(f"readings must have exactly the registers {list(REGISTERS)}")
    checked: dict[str, tuple[int | None, ...]] = {}
    for register in REGISTERS:
        values = tuple(readings[register])
        if len(values) != n + 1:
            raise BlockError(f"{register}: {len(values)} boundary readings for {n} intervals")
        for value in values:
            # bool is an int subclass; a True in a register is a bug, not a reading
            if value is not None and (type(value) is not int or value < 0):
                raise BlockError(f"{register}: reading {value!r} is not a Wh integer >= 0")
        checked[register] = values
    return MappingProxyType(checked)


def _checked_flags(flags: Any) -> tuple[str, ...]:
    if isinstance(flags, str) or not all(isinstance(f, str) and f for f in flags):
        raise BlockError(f"interval flags {flags!r} must be a sequence of non-empty strings")
    return tuple(sorted(set(flags)))


def encode_payload(
    readings: DayReadings, *, seq: int, prev: bytes | None, created: datetime, time_sync: str
) -> bytes:
    """Encode a day block payload as deterministic CBOR (the bytes that get signed).

    `seq` counts blocks per (gateway, allocation point) from `FIRST_SEQ`; `prev` is the SHA-256
    of the previous block's COSE bytes (None only for the first). `created` must not be before
    the end of the day: a day is released only once it is complete.
    """
    if type(seq) is not int or seq < FIRST_SEQ:
        raise BlockError(f"seq {seq!r} must be an integer >= {FIRST_SEQ}")
    if prev is not None and (type(prev) is not bytes or len(prev) != HASH_SIZE):
        raise BlockError("prev must be the 32-byte SHA-256 of the previous block, or None")
    if (prev is None) != (seq == FIRST_SEQ):
        raise BlockError(f"prev must be None exactly for the first block (seq {FIRST_SEQ})")
    if time_sync not in TIME_SYNC_SOURCES:
        raise BlockError(f"time_sync {time_sync!r} is not one of {sorted(TIME_SYNC_SOURCES)}")
    created_text = utc_text(created)
    day_end = readings.start + timedelta(seconds=STEP_SECONDS * readings.n)
    if created < day_end:
        raise BlockError(f"created {created_text} is before the end of {readings.day}")
    payload = {
        "v": FORMAT_VERSION,
        "gw": readings.gw,
        "ap": readings.ap,
        "role": readings.role,
        "meter": readings.meter,
        "day": readings.day.isoformat(),
        "tz": readings.tz,
        "start": utc_text(readings.start),
        "step": STEP_SECONDS,
        "obis": list(OBIS),
        "readings": {r: list(readings.readings[r]) for r in REGISTERS},
        "status": list(readings.status),
        "flags": [list(f) for f in readings.flags],
        "seq": seq,
        "prev": prev,
        "created": created_text,
        "time_sync": time_sync,
    }
    return cbor2.dumps(payload, canonical=True)


def decode_payload(data: bytes) -> dict[str, Any]:
    """Decode a day-block payload and check its outline (exact key set, version).

    Content checks (counts, monotonic readings, times) are the verifier's job.
    """
    try:
        decoded = strict_loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise BlockError(f"payload is not valid CBOR: {exc}") from exc
    if type(decoded) is not dict:
        raise BlockError("payload is not a CBOR map")
    if decoded.keys() != PAYLOAD_KEYS:
        missing = sorted(PAYLOAD_KEYS - decoded.keys())
        extra = sorted(map(repr, decoded.keys() - PAYLOAD_KEYS))
        raise BlockError(f"payload keys wrong: missing {missing}, unexpected {extra}")
    if decoded["v"] != FORMAT_VERSION:
        raise BlockError(f"unsupported payload version {decoded['v']!r}")
    return decoded


def readings_from_payload(decoded: Mapping[str, Any]) -> DayReadings:
    """Rebuild the `DayReadings` of a decoded payload (re-validating everything)."""
    try:
        start = datetime.fromisoformat(decoded["start"])
        return DayReadings(
            gw=decoded["gw"],
            ap=decoded["ap"],
            role=decoded["role"],
            meter=decoded["meter"],
            day=date.fromisoformat(decoded["day"]),
            tz=decoded["tz"],
            start=start,
            readings={r: tuple(decoded["readings"][r]) for r in REGISTERS},
            status=tuple(decoded["status"]),
            flags=tuple(tuple(f) for f in decoded["flags"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BlockError(f"payload fields malformed: {exc}") from exc
