"""The allocation run's fast path gives exactly the generic decoder's Columns, hostile or not.

Real blocks from the fleet generator (faults, register decreases, gaps, opted-out points, three
days so the neighbour-day continuity runs), plus blocks re-signed with other spellings and
mutated bytes: `decode_day(fast=True)` must equal `decode_day(fast=False)` in every column and
in the problems' words and order; `split_block`, where it accepts a block, must give what
`decode_envelope` + `decode_payload` give.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import cbor2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.blocks.cose import DAY_CONTENT_TYPE, decode_envelope, sign
from edge.blocks.payload import REGISTERS, decode_payload
from edge.errors import BlockError
from edge.grid.allocation import allocate_day
from edge.grid.allocation.decode import decode_day
from edge.grid.allocation.fastpath import gather, split_block
from edge.grid.allocation.model import Columns
from edge.grid.allocation.points import day_points
from edge.grid.fleet import FleetSpec, generate, plan
from edge.grid.registry import RegistryRow

SPEC = FleetSpec(gateways=40, days=3, seed=7, secondaries=0.6, opt_out=0.08, gap_rate=0.03,
                 fault_rate=0.3, decrease_rate=0.1)  # fmt: skip
DAY = SPEC.first_day + timedelta(days=1)
TZ = "Europe/Amsterdam"
Block = tuple[str, str, int, bytes]
KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def fleet() -> tuple[list[RegistryRow], list[Block]]:
    _, rows = plan(SPEC)
    return rows, [(b.gw, b.ap, b.seq, b.cose) for b in generate(SPEC)]


def assert_same_columns(a: Columns, b: Columns) -> None:
    for name in Columns.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), name
        else:
            assert x == y, name


def _payload(cose: bytes) -> dict[str, Any]:
    return decode_payload(decode_envelope(cose)[2])


def _resign(cose: bytes, **changes: Any) -> bytes:
    """The block's payload with `changes`, encoded canonically and signed again."""
    payload = _payload(cose) | changes
    return sign(cbor2.dumps(payload, canonical=True), KEY, DAY_CONTENT_TYPE)


def test_the_fast_path_takes_most_real_blocks_and_gives_the_same_columns(
    fleet: tuple[list[RegistryRow], list[Block]],
) -> None:
    rows, blocks = fleet
    taken = sum(split_block(cose) is not None for *_, cose in blocks)
    assert taken > len(blocks) / 2  # the flagged days (30 % faults) take the generic path
    points = day_points(rows, DAY)
    fast, generic = decode_day(blocks, points, TZ), decode_day(blocks, points, TZ, fast=False)
    assert_same_columns(fast, generic)
    assert fast.received.sum() > 0.8 * len(points.rows) and fast.ok.any()
    assert any(not np.isnan(x) for x in fast.imp[:, 0])  # the continuity edges were applied


def test_split_block_gives_what_the_decoder_gives(
    fleet: tuple[list[RegistryRow], list[Block]],
) -> None:
    for *_, cose in fleet[1][:300]:
        found = split_block(cose)
        payload = _payload(cose)
        if found is None:
            assert any(payload["flags"]) or set(payload["status"]) - {"measured", "interpolated",
                                                                      "missing"}  # fmt: skip
            continue
        _assert_split_equals(found, cose, payload)


def _assert_split_equals(found: Any, cose: bytes, payload: dict[str, Any]) -> None:
    for name in ("day", "ap", "role", "meter", "tz", "start"):
        assert getattr(found, name) == payload[name]
    assert found.intervals == len(payload["status"]) == len(payload["flags"])
    assert found.unusable == [k for k, s in enumerate(payload["status"]) if s == "missing"]
    for register, spec in zip(REGISTERS, found.readings, strict=True):
        expected = payload["readings"][register]
        if isinstance(spec, list):
            assert spec == expected
        else:
            values = gather([cose], [(0, *spec)], found.boundaries)[0]
            assert values.tolist() == [float(v) for v in expected]


@pytest.mark.parametrize(
    "changes",
    [
        # null boundaries and every width of CBOR uint in one array: parsed, not uniform
        {
            "readings": {
                "import_t1": [None, 0, 23, 24, 255, 256, 65535, 65536, 2**32, 2**40] + [2**40] * 87,
                "import_t2": [0] * 97,
                "export_t1": [5] * 97,
                "export_t2": [2**33] * 97,
            }
        },
        {"status": ["interpolated"] * 50 + ["missing"] * 46},
    ],
)
def test_other_widths_nulls_and_statuses_in_the_fast_path(
    fleet: tuple[list[RegistryRow], list[Block]], changes: dict[str, Any]
) -> None:
    cose = next(c for *_, c in fleet[1] if _payload(c)["day"] == DAY.isoformat())
    block = _resign(cose, **changes)
    found = split_block(block)
    assert found is not None
    _assert_split_equals(found, block, _payload(block))


def _hostile(fleet: tuple[list[RegistryRow], list[Block]]) -> list[Block]:
    """Blocks of the day in other spellings, with broken content, or not CBOR at all."""
    gw, ap, seq, cose = next(b for b in fleet[1] if _payload(b[3])["day"] == DAY.isoformat())
    payload = _payload(cose)
    key = cbor2.dumps(payload, canonical=True)
    variants = [
        cose[:-1],  # truncated signature
        cose + b"\x00",  # trailing byte
        cose[:200] + b"\xff" + cose[201:],  # a broken byte in the readings
        b"\xd2\x84" + cose[2:60],  # cut short
        sign(key[:-10] + b"\x7f" + key[-9:], KEY, DAY_CONTENT_TYPE),  # an indefinite text
        sign(cbor2.dumps(payload), KEY, DAY_CONTENT_TYPE),  # keys not in canonical order
        _resign(cose, v=True),  # the generic decoder takes True == 1
        _resign(cose, tz="Europe/Brussels"),
        _resign(cose, role="secondary" if payload["role"] == "primary" else "primary"),
        _resign(cose, status=payload["status"][:-1]),
        _resign(cose, status=["measured"] * 95 + ["bogus"]),
        _resign(cose, flags=[["clock_skew"]] + [[]] * 95),
        _resign(cose, flags=[[["nested"]]] + [[]] * 95),  # unhashable flags: not a crash
        _resign(cose, readings=payload["readings"] | {"import_t1": [2**1100] * 97}),  # bignum
        _resign(cose, readings=payload["readings"] | {"import_t2": [1.5] * 97}),
        _resign(cose, readings=payload["readings"] | {"export_t1": [0] * 96}),
        _resign(cose, ap="871687000000000000"),  # another point than the store says
        _resign(cose, day="2025-01-01"),
        sign(b"\xa0", KEY, DAY_CONTENT_TYPE),
        b"not cbor",
    ]
    return [(gw, ap, seq + k, block) for k, block in enumerate(variants)]


def test_hostile_blocks_give_the_same_columns_and_problems_fast_or_not(
    fleet: tuple[list[RegistryRow], list[Block]],
) -> None:
    rows, blocks = fleet
    points = day_points(rows, DAY)
    hostile = _hostile(fleet)
    for order in (hostile + blocks, blocks + hostile):  # before and after the genuine block
        fast = decode_day(order, points, TZ)
        assert_same_columns(fast, decode_day(order, points, TZ, fast=False))
        assert len(fast.problems) >= 8


def test_a_bignum_reading_or_nested_flags_are_unusable_values_not_a_crash(
    fleet: tuple[list[RegistryRow], list[Block]],
) -> None:
    rows, blocks = fleet
    gw, ap, seq, cose = next(b for b in blocks if _payload(b[3])["day"] == DAY.isoformat())
    payload = _payload(cose)
    rest = [b for b in blocks if b[1] != ap]
    bignum = _resign(cose, readings=payload["readings"] | {"import_t1": [2**1100] * 97})
    nested = _resign(cose, flags=[[["nested"]]] + [[]] * 95)
    for block, bad in ((bignum, slice(None)), (nested, slice(0, 1))):
        result = allocate_day(DAY, [*rest, (gw, ap, seq, block)], rows)
        cols = decode_day([(gw, ap, seq, block)], day_points(rows, DAY), TZ)
        row = day_points(rows, DAY).index[ap]
        assert cols.received[row] and not cols.ok[row, bad].any()
        assert result.allocation.substituted.sum() > 0


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_bytes_never_make_the_two_paths_differ(
    fleet: tuple[list[RegistryRow], list[Block]], data: st.DataObject
) -> None:
    rows, blocks = fleet
    gw, ap, seq, cose = data.draw(st.sampled_from(blocks[:80]))
    at = data.draw(st.integers(0, len(cose) - 1))
    mutated = bytearray(cose)
    how = data.draw(st.sampled_from(["flip", "cut", "insert"]))
    if how == "flip":
        mutated[at] ^= data.draw(st.integers(1, 255))
    elif how == "cut":
        del mutated[at:]
    else:
        mutated.insert(at, data.draw(st.integers(0, 255)))
    block = bytes(mutated)
    found = split_block(block)
    if found is not None:  # the fast path took it: the decoder must agree on every field
        try:
            payload = _payload(block)
        except BlockError as exc:  # pragma: no cover - the failure this test looks for
            raise AssertionError(f"fast path took a block the decoder refuses: {exc}") from exc
        _assert_split_equals(found, block, payload)
    points = day_points(rows, DAY)
    sample = [*blocks[:20], (gw, ap, seq, block)]
    assert_same_columns(decode_day(sample, points, TZ), decode_day(sample, points, TZ, fast=False))
