"""Day-block payload: exact fields, deterministic CBOR, DST day sizes, validation."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.blocks.days import day_layout
from edge.blocks.payload import (
    OBIS,
    PAYLOAD_KEYS,
    REGISTERS,
    DayReadings,
    decode_payload,
    encode_payload,
    readings_from_payload,
)
from edge.errors import BlockError
from tests.blocks.factory import created_after, make_readings

PREV = hashlib.sha256(b"previous block").digest()


def encode(readings: DayReadings, **kwargs: object) -> bytes:
    args: dict[str, object] = {
        "seq": 2,
        "prev": PREV,
        "created": created_after(readings),
        "time_sync": "ntp",
    }
    args.update(kwargs)
    return encode_payload(readings, **args)  # type: ignore[arg-type]


def test_fields_are_exactly_the_format() -> None:
    readings = make_readings(date(2026, 3, 10))
    decoded = decode_payload(encode(readings))
    assert decoded.keys() == PAYLOAD_KEYS
    assert decoded["v"] == 1
    assert decoded["day"] == "2026-03-10"
    assert decoded["tz"] == "Europe/Amsterdam"
    assert decoded["start"] == "2026-03-09T23:00:00Z"
    assert decoded["step"] == 900
    assert decoded["obis"] == ["1-0:1.8.1", "1-0:1.8.2", "1-0:2.8.1", "1-0:2.8.2"]
    assert list(decoded["readings"]) == ["export_t1", "export_t2", "import_t1", "import_t2"]
    assert all(len(decoded["readings"][r]) == 97 for r in REGISTERS)
    assert decoded["readings"]["import_t1"][8] is None
    assert len(decoded["status"]) == len(decoded["flags"]) == 96
    assert decoded["status"][7] == "missing"
    assert decoded["flags"][7] == ["power_failure"]
    assert decoded["seq"] == 2
    assert decoded["prev"] == PREV
    assert decoded["created"] == "2026-03-11T02:13:00Z"
    assert decoded["time_sync"] == "ntp"
    assert tuple(decoded["obis"]) == OBIS


def test_round_trip() -> None:
    readings = make_readings()
    assert readings_from_payload(decode_payload(encode(readings))) == readings


def test_encoding_is_deterministic_and_independent_of_insertion_order() -> None:
    readings = make_readings()
    reordered = replace(readings, readings=dict(reversed(list(readings.readings.items()))))
    first, second = encode(readings), encode(readings)
    assert first == second == encode(reordered)
    # and it is what cbor2's canonical encoder makes of the decoded map
    assert cbor2.dumps(cbor2.loads(first), canonical=True) == first


def test_map_keys_follow_rfc8949_core_deterministic_order() -> None:
    data = encode(make_readings())
    decoded = cbor2.loads(data)  # a dict keeps the order in which the keys came off the wire
    keys = [cbor2.dumps(k) for k in decoded]
    # §4.2.1: sorted by the bytewise lexicographic order of the encoded keys
    assert keys == sorted(keys)
    assert list(decoded)[:6] == ["v", "ap", "gw", "tz", "day", "seq"]
    # straight off the bytes: a map of 17 pairs, first "v": 1, then "ap"
    assert data.startswith(b"\xb1\x61v\x01\x62ap")
    nested = [cbor2.dumps(k) for k in decoded["readings"]]
    assert nested == sorted(nested)


def test_shortest_integer_encoding() -> None:
    data = encode(make_readings())
    # step 900 must be the 3-byte form 19 0384, never a longer one
    assert bytes.fromhex("6473746570190384") in data


@pytest.mark.parametrize(
    ("day", "n", "start"),
    [
        (date(2026, 3, 29), 92, "2026-03-28T23:00:00Z"),
        (date(2026, 10, 25), 100, "2026-10-24T22:00:00Z"),
        (date(2026, 7, 1), 96, "2026-06-30T22:00:00Z"),
    ],
)
def test_dst_days(day: date, n: int, start: str) -> None:
    readings = make_readings(day)
    assert readings.n == n
    decoded = decode_payload(encode(readings))
    assert decoded["start"] == start
    assert len(decoded["status"]) == n
    assert all(len(decoded["readings"][r]) == n + 1 for r in REGISTERS)


def test_brussels_dst_day() -> None:
    assert day_layout(date(2026, 3, 29), "Europe/Brussels")[1] == 92


def test_flags_are_sorted_and_deduplicated() -> None:
    readings = make_readings()
    flags = list(readings.flags)
    flags[3] = ("power_failure", "clock_skew", "power_failure")
    again = replace(readings, flags=tuple(flags))
    assert again.flags[3] == ("clock_skew", "power_failure")


def _with_register(readings: DayReadings, values: tuple[object, ...]) -> dict[str, object]:
    return {**readings.readings, "import_t1": values}


@pytest.mark.parametrize(
    "change",
    [
        lambda r: {"status": r.status[:-1]},  # 95 intervals
        lambda r: {"flags": r.flags[:-1]},
        lambda r: {"readings": _with_register(r, r.readings["import_t1"][:-1])},
        lambda r: {"readings": _with_register(r, (True, *r.readings["import_t1"][1:]))},
        lambda r: {"readings": _with_register(r, (-1, *r.readings["import_t1"][1:]))},
        lambda r: {"readings": _with_register(r, (1.5, *r.readings["import_t1"][1:]))},
        lambda r: {"readings": {k: v for k, v in r.readings.items() if k != "export_t2"}},
        lambda r: {"status": ("measured", "guessed", *r.status[2:])},
        lambda r: {"flags": (("",), *r.flags[1:])},
        lambda r: {"flags": ("clock_skew", *r.flags[1:])},
        lambda r: {"start": r.start + timedelta(hours=1)},
        lambda r: {"start": r.start.replace(tzinfo=None)},
        lambda r: {"role": "tertiary"},
        lambda r: {"gw": ""},
        lambda r: {"tz": "Mars/Olympus_Mons"},
        lambda r: {"day": datetime(2026, 3, 10)},
    ],
)
def test_invalid_readings_are_refused(change) -> None:  # type: ignore[no-untyped-def]
    readings = make_readings()
    with pytest.raises(BlockError):
        replace(readings, **change(readings))


def test_wrong_count_for_a_dst_day_is_refused() -> None:
    normal = make_readings(date(2026, 3, 28))  # 96 intervals
    start, _ = day_layout(date(2026, 3, 29), normal.tz)
    with pytest.raises(BlockError, match="92 intervals"):
        replace(normal, day=date(2026, 3, 29), start=start)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seq": 0}, "seq"),
        ({"seq": 1}, "prev must be None"),
        ({"seq": 3, "prev": None}, "prev must be None"),
        ({"prev": b"short"}, "32-byte"),
        ({"time_sync": "guess"}, "time_sync"),
        ({"created": datetime(2026, 3, 10, 22, 59, tzinfo=UTC)}, "before the end"),
        ({"created": datetime(2026, 3, 12, 3, 0)}, "naive"),
    ],
)
def test_invalid_block_fields_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(BlockError, match=match):
        encode(make_readings(), **kwargs)


def test_first_block_has_seq_1_and_no_prev() -> None:
    decoded = decode_payload(encode(make_readings(), seq=1, prev=None))
    assert (decoded["seq"], decoded["prev"]) == (1, None)


def test_created_is_whole_seconds_utc_whatever_the_zone() -> None:
    readings = make_readings()
    elsewhere = created_after(readings).astimezone(ZoneInfo("America/New_York"))
    created = elsewhere + timedelta(microseconds=7)
    assert decode_payload(encode(readings, created=created))["created"] == "2026-03-11T02:13:00Z"


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff", cbor2.dumps([1, 2]), cbor2.dumps({"v": 1}), b"\xa1\x61v\x01\x00"],
)
def test_decode_payload_refuses_garbage(data: bytes) -> None:
    with pytest.raises(BlockError):
        decode_payload(data)


def test_decode_payload_refuses_duplicate_keys() -> None:
    data = encode(make_readings())
    # append a duplicate "v" key by growing the map header from 17 to 18 entries
    assert data[:2] == b"\xb1\x61"
    duplicated = b"\xb2" + data[1:] + b"\x61v\x01"
    with pytest.raises(BlockError):
        decode_payload(duplicated)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_decode_payload_fuzz(data: bytes) -> None:
    try:
        decoded = decode_payload(data)
    except BlockError:
        return  # the one error type for bad input
    assert decoded.keys() == PAYLOAD_KEYS


@settings(max_examples=25, deadline=None)
@given(
    steps=st.lists(st.integers(0, 5_000), min_size=96, max_size=96),
    base=st.integers(0, 2**40),
    missing=st.sets(st.integers(0, 96), max_size=10),
)
def test_round_trip_property(steps: list[int], base: int, missing: set[int]) -> None:
    template = make_readings()
    values: list[int | None] = [base]
    for step in steps:
        values.append((values[-1] or 0) + step)
    for index in missing:
        values[index] = None
    readings = replace(template, readings={r: tuple(values) for r in REGISTERS})
    data = encode(readings)
    assert data == encode(readings)
    assert readings_from_payload(decode_payload(data)) == readings
