"""Content checks of one decoded day-block payload, as the grid operator runs them.

Strategy: every check appends a human-readable problem instead of raising, so one pass reports
everything wrong with a block. The hot paths (status set, monotonic readings) use C-level
builtins (set, sorted) and fall back to a slow exact walk only when something is off, because
the verifier must keep up with thousands of blocks per second. A register that decreases is a
problem only if the gateway did not flag it: the edge keeps such values and flags them (R1,
R5), and a flagged decrease is reported as a note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import chain
from typing import Any

from edge.blocks.cborcompat import CBOR_MAPS
from edge.blocks.days import STEP_SECONDS, VALID_INTERVAL_COUNTS, day_layout, utc_text
from edge.blocks.payload import (
    FIRST_SEQ,
    HASH_SIZE,
    OBIS,
    REGISTERS,
    ROLES,
    STATUSES,
    TIME_SYNC_SOURCES,
)
from edge.errors import BlockError

_OBIS_LIST = list(OBIS)
_DECREASE_FLAGS = frozenset({"register_decreased", "meter_changed"})


@lru_cache(maxsize=8192)
def expected_layout(day_text: str, tz: str) -> tuple[str, int, datetime]:
    """(start text, interval count, UTC end) of a local day given as text; cached."""
    start, n = day_layout(date.fromisoformat(day_text), tz)
    return utc_text(start), n, start + timedelta(seconds=STEP_SECONDS * n)


def payload_problems(d: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Check a decoded payload (outline already checked); returns (problems, notes)."""
    problems: list[str] = []
    notes: list[str] = []
    _check_scalars(d, problems)
    if type(d["day"]) is not str or type(d["tz"]) is not str:
        problems.append("day and tz must be text")
        return problems, notes
    try:
        start_text, n, end = expected_layout(d["day"], d["tz"])
    except (BlockError, ValueError) as exc:
        problems.append(f"day/tz unusable: {exc}")
        return problems, notes
    if n not in VALID_INTERVAL_COUNTS:
        problems.append(f"{d['day']} in {d['tz']} has {n} intervals, not 92/96/100")
    if d["start"] != start_text:
        problems.append(f"start {d['start']!r} is not local midnight {start_text}")
    _check_created(d["created"], end, problems)
    _check_intervals(d, n, problems)
    _check_readings(d, n, problems, notes)
    return problems, notes


def _check_scalars(d: Mapping[str, Any], problems: list[str]) -> None:
    for name in ("gw", "ap", "meter"):
        if type(d[name]) is not str or not d[name]:
            problems.append(f"{name} must be non-empty text")
    if not _is_one_of(d["role"], ROLES):
        problems.append(f"role {d['role']!r} is not primary/secondary")
    if d["step"] != STEP_SECONDS:
        problems.append(f"step {d['step']!r} is not {STEP_SECONDS}")
    if d["obis"] != _OBIS_LIST and d["obis"] != OBIS:  # decoded as a list or a tuple
        problems.append(f"obis {d['obis']!r} is not {_OBIS_LIST}")
    seq, prev = d["seq"], d["prev"]
    if type(seq) is not int or seq < FIRST_SEQ:
        problems.append(f"seq {seq!r} is not an integer >= {FIRST_SEQ}")
    if prev is not None and (type(prev) is not bytes or len(prev) != HASH_SIZE):
        problems.append("prev is neither null nor a 32-byte hash")
    if not _is_one_of(d["time_sync"], TIME_SYNC_SOURCES):
        problems.append(f"time_sync {d['time_sync']!r} is not one of {sorted(TIME_SYNC_SOURCES)}")


def _is_one_of(value: Any, allowed: frozenset[str]) -> bool:
    return type(value) is str and value in allowed  # a list or map is unhashable: no `in`


def _check_created(created: Any, end: datetime, problems: list[str]) -> None:
    try:
        moment = datetime.fromisoformat(created)
    except (TypeError, ValueError):
        problems.append(f"created {created!r} is not a UTC time")
        return
    if moment.tzinfo is None or moment.utcoffset() != timedelta(0) or created[-1:] != "Z":
        problems.append(f"created {created!r} is not in UTC (…Z)")
    elif moment.astimezone(UTC) < end:
        # the whole point of the format: a day is released only after it is complete
        problems.append(f"created {created} before the day ended ({utc_text(end)})")


def _check_intervals(d: Mapping[str, Any], n: int, problems: list[str]) -> None:
    """Counts and types of the per-interval status and flags."""
    status, flags = d["status"], d["flags"]
    if type(status) not in _SEQS or len(status) != n:
        problems.append(f"status must have {n} entries")
    elif status.count("measured") != n and not _within(status, STATUSES):
        problems.append(f"status values outside {sorted(STATUSES)}")
    if type(flags) not in _SEQS or len(flags) != n:
        problems.append(f"flags must have {n} entries")
    elif flags.count([]) != n and not _flag_lists(flags):  # fast path first: no flags at all
        problems.append("flags must be lists of text")


def _flag_lists(flags: Sequence[Any]) -> bool:
    return _types_within(flags, _SEQ_TYPES) and _types_within(chain.from_iterable(flags), _STR)


def _check_readings(d: Mapping[str, Any], n: int, problems: list[str], notes: list[str]) -> None:
    """Per register: n+1 Wh integers or nulls that never decrease unless flagged."""
    readings = d["readings"]
    if type(readings) not in _MAPS or readings.keys() != set(REGISTERS):
        problems.append(f"readings must have exactly {list(REGISTERS)}")
        return
    for register in REGISTERS:
        values = readings[register]
        if type(values) not in _SEQS or len(values) != n + 1:
            problems.append(f"{register} must have {n + 1} boundary readings")
            continue
        types = [*map(type, values)]  # in C; bool and float are not int here
        if types.count(int) == n + 1:
            present = values  # the common case: no nulls
        elif set(types) <= _INT_OR_NONE:
            present = [v for v in values if v is not None]
        else:
            problems.append(f"{register} has a reading that is neither a Wh integer nor null")
            continue
        ordered = list(present) == sorted(present)  # the common case, decided in C
        if present and (present[0] if ordered else min(present)) < 0:
            problems.append(f"{register} has a negative reading")
        if not ordered:
            _check_decreases(register, values, d["flags"], problems, notes)


def _check_decreases(
    register: str,
    values: Sequence[int | None],
    flags: Any,
    problems: list[str],
    notes: list[str],
) -> None:
    usable_flags = type(flags) in _SEQS and len(flags) == len(values) - 1
    for first, last in _decreases(values):
        where = f"{register} decreases over intervals {first}..{last}"
        span = flags[first : last + 1] if usable_flags else []
        if any(type(f) in _SEQS and _DECREASE_FLAGS.intersection(f) for f in span):
            notes.append(f"{where} (flagged)")
        else:
            problems.append(f"{where} without a register_decreased/meter_changed flag")


# decoded CBOR arrays are lists, or tuples when decoded read-only; maps dict or frozendict
_SEQS: tuple[type, ...] = (list, tuple)
_MAPS: tuple[type, ...] = CBOR_MAPS
_NONE = type(None)
_STR, _SEQ_TYPES, _INT_OR_NONE = frozenset({str}), frozenset(_SEQS), frozenset({int, _NONE})


def _types_within(items: Iterable[Any], allowed: frozenset[type]) -> bool:
    # set(map(type, ...)) runs in C: ~20x faster than a generator of isinstance checks
    return set(map(type, items)) <= allowed


def _within(items: Sequence[Any], allowed: frozenset[str]) -> bool:
    try:
        return set(items) <= allowed  # only these exact strings, so only str
    except TypeError:  # an unhashable item (a list or map) is not a valid value either
        return False


def _decreases(values: Sequence[int | None]) -> list[tuple[int, int]]:
    """Interval spans (first, last) over which the reading drops, skipping nulls."""
    spans: list[tuple[int, int]] = []
    last_index, last_value = -1, 0
    for index, value in enumerate(values):
        if value is None:
            continue
        if last_index >= 0 and value < last_value:
            spans.append((last_index, index - 1))
        last_index, last_value = index, value
    return spans
