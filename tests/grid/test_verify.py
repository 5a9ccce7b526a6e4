"""The grid operator's verifier: every check of SPEC §6, gaps apart from failures."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.blocks.chain import block_hash
from edge.blocks.cose import DAY_CONTENT_TYPE, key_id, keyring, sign, verify
from edge.blocks.payload import decode_payload
from edge.grid.verify import Gap, VerifyResult, check_block, verify_blocks
from tests.blocks.factory import AP, GW, make_chain

Ring = dict[bytes, Ed25519PublicKey]


def run(blocks: list[bytes], ring: Ring, **kwargs: Any) -> VerifyResult:
    return verify_blocks([(f"b{i}", b) for i, b in enumerate(blocks)], ring, **kwargs)


def problems(result: VerifyResult) -> list[str]:
    return [p for r in result.reports for p in r.problems]


def resign(block: bytes, key: Ed25519PrivateKey, change: Callable[[dict[str, Any]], None]) -> bytes:
    """The same block with its payload changed and signed again (a buggy or lying signer)."""
    payload = decode_payload(verify(block, key.public_key()).payload)
    change(payload)
    return sign(cbor2.dumps(payload, canonical=True), key, DAY_CONTENT_TYPE)


def test_a_good_chain_verifies(key: Ed25519PrivateKey, ring: Ring) -> None:
    result = run(make_chain(key, 10), ring)
    assert result.ok and result.failures == 0 and result.gaps == ()
    first = result.reports[0]
    assert (first.gw, first.ap, first.seq, first.day, first.n) == (GW, AP, 1, "2026-03-01", 96)
    assert first.kid is not None and len(first.kid) == 16
    assert [r.seq for r in result.reports] == list(range(1, 11))


def test_dst_days_verify(key: Ed25519PrivateKey, ring: Ring) -> None:
    spring = make_chain(key, 3, first_day=date(2026, 3, 28))
    autumn = make_chain(key, 3, first_day=date(2026, 10, 24), ap="871687120000000028")
    result = run(spring + autumn, ring)
    assert result.ok, problems(result)
    assert [r.n for r in result.reports] == [96, 92, 96, 96, 100, 96]


def test_gap_is_reported_apart_from_failures(key: Ed25519PrivateKey, ring: Ring) -> None:
    chain = make_chain(key, 8)
    result = run(chain[:3] + chain[5:], ring)
    assert result.ok
    assert result.gaps == (Gap(GW, AP, 4, 5),)


def test_missing_beginning_is_a_gap(key: Ed25519PrivateKey, ring: Ring) -> None:
    result = run(make_chain(key, 5)[2:], ring)
    assert result.ok and result.gaps == (Gap(GW, AP, 1, 2),)


def test_reordered_input_is_sorted_by_seq(key: Ed25519PrivateKey, ring: Ring) -> None:
    chain = make_chain(key, 6)
    shuffled = chain[:]
    random.Random(3).shuffle(shuffled)
    assert run(shuffled, ring).ok


def test_reordered_input_fails_when_order_matters(key: Ed25519PrivateKey, ring: Ring) -> None:
    chain = make_chain(key, 4)
    result = run([chain[0], chain[2], chain[1], chain[3]], ring, in_order=True)
    assert not result.ok
    assert "out of order: seq 2 after seq 3" in problems(result)
    assert run(chain, ring, in_order=True).ok


def test_redelivered_block_is_a_note_not_a_failure(key: Ed25519PrivateKey, ring: Ring) -> None:
    chain = make_chain(key, 3)
    result = run([*chain, chain[1]], ring)
    assert result.ok
    assert any("duplicate of b1" in n for n in result.reports[3].notes)


def test_seq_reused_with_other_content_fails(key: Ed25519PrivateKey, ring: Ring) -> None:
    chain = make_chain(key, 3)
    fork = resign(chain[1], key, lambda p: p.update(time_sync="none"))
    result = run([*chain, fork], ring)
    assert not result.ok
    assert any("seq 2 reused" in p for p in result.reports[3].problems)


def test_prev_must_be_the_hash_of_the_last_block(key: Ed25519PrivateKey, ring: Ring) -> None:
    chain = make_chain(key, 3)
    bad = resign(chain[2], key, lambda p: p.update(prev=block_hash(chain[0])))
    result = run([chain[0], chain[1], bad], ring)
    assert problems(result) == ["prev does not match the hash of seq 2"]


def test_first_block_needs_null_prev(key: Ed25519PrivateKey, ring: Ring) -> None:
    chain = make_chain(key, 2)
    bad = resign(chain[0], key, lambda p: p.update(prev=block_hash(b"x")))
    assert not run([bad], ring).ok


def test_tampered_and_foreign_blocks_fail(key: Ed25519PrivateKey, ring: Ring) -> None:
    chain = make_chain(key, 3)
    tampered = bytearray(chain[1])
    tampered[200] ^= 0x01
    stranger = make_chain(Ed25519PrivateKey.generate(), 1)[0]
    result = run([chain[0], bytes(tampered), chain[2], stranger], ring)
    assert [r.ok for r in result.reports] == [True, False, True, False]
    assert "does not verify" in result.reports[1].problems[0]
    assert "unknown kid" in result.reports[3].problems[0]
    # the tampered block cannot stand in for seq 2: it is a gap for the chain
    assert result.gaps == (Gap(GW, AP, 2, 2),)


def test_wrong_content_type_fails(key: Ed25519PrivateKey, ring: Ring) -> None:
    block = make_chain(key, 1)[0]
    payload = verify(block, ring).payload
    other = sign(payload, key, "application/cbor")
    assert "content type" in check_block(other, ring).problems[0]


def _drop_interval(p: dict[str, Any]) -> None:
    p["status"].pop()
    p["flags"].pop()
    for values in p["readings"].values():
        values.pop()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_drop_interval, "status must have 96"),
        (lambda p: p.update(start="2026-03-01T00:00:00Z"), "not local midnight"),
        (lambda p: p.update(created="2026-03-01T22:59:59Z"), "before the day ended"),
        (lambda p: p.update(created="2026-03-03T01:00:00+01:00"), "not in UTC"),
        (lambda p: p.update(step=60), "step"),
        (lambda p: p.update(obis=["1-0:1.8.0"]), "obis"),
        (lambda p: p.update(tz="Nowhere/Land"), "day/tz unusable"),
        (lambda p: p.update(role="boss"), "role"),
        (lambda p: p.update(time_sync="sundial"), "time_sync"),
        (lambda p: p["status"].__setitem__(3, "guessed"), "status values"),
        (lambda p: p["flags"].__setitem__(3, "clock_skew"), "flags must be lists"),
        (lambda p: p["readings"]["import_t2"].__setitem__(3, 2.5), "neither a Wh integer"),
        (lambda p: p["readings"]["import_t2"].__setitem__(3, True), "neither a Wh integer"),
        (lambda p: p["readings"]["export_t1"].__setitem__(50, 0), "decreases over intervals"),
        (lambda p: p["readings"].pop("export_t2"), "readings must have"),
    ],
)
def test_content_checks(
    key: Ed25519PrivateKey, ring: Ring, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    block = resign(make_chain(key, 1)[0], key, change)
    report = check_block(block, ring)
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems


def test_flagged_decrease_is_a_note(key: Ed25519PrivateKey, ring: Ring) -> None:
    def meter_swap(p: dict[str, Any]) -> None:
        p["readings"]["import_t1"][50] = 10
        p["flags"][49] = ["meter_changed"]

    report = check_block(resign(make_chain(key, 1)[0], key, meter_swap), ring)
    assert report.ok
    assert report.notes == ("import_t1 decreases over intervals 49..49 (flagged)",)


def test_nulls_are_skipped_in_the_monotonic_check(key: Ed25519PrivateKey, ring: Ring) -> None:
    def holes(p: dict[str, Any]) -> None:
        values = p["readings"]["import_t1"]
        values[20:30] = [None] * 10
        values[0] = None

    assert check_block(resign(make_chain(key, 1)[0], key, holes), ring).ok

    def drop_across_hole(p: dict[str, Any]) -> None:
        values = p["readings"]["import_t1"]
        values[20:30] = [None] * 10
        values[30] = values[19] - 1

    report = check_block(resign(make_chain(key, 1)[0], key, drop_across_hole), ring)
    assert report.problems == (
        "import_t1 decreases over intervals 19..29 without a register_decreased/meter_changed flag",
    )


def test_readings_drop_across_midnight(key: Ed25519PrivateKey, ring: Ring) -> None:
    chain = make_chain(key, 2)

    def shift(p: dict[str, Any]) -> None:
        p["readings"]["import_t1"] = [
            None if v is None else v - 10_000 for v in p["readings"]["import_t1"]
        ]
        p["prev"] = block_hash(chain[0])

    result = run([chain[0], resign(chain[1], key, shift)], ring)
    assert problems(result) == ["import_t1 drops across midnight after 2026-03-01"]


def test_days_must_move_forward(key: Ed25519PrivateKey, ring: Ring) -> None:
    chain = make_chain(key, 2)
    again = resign(
        chain[1], key, lambda p: p.update(day="2026-03-01", start="2026-02-28T23:00:00Z")
    )
    result = run([chain[0], again], ring)
    assert any("does not follow day" in p for p in problems(result))


def test_non_deterministic_payload_fails(key: Ed25519PrivateKey, ring: Ring) -> None:
    payload = decode_payload(verify(make_chain(key, 1)[0], ring).payload)
    shuffled = dict(sorted(payload.items(), reverse=True))  # keys out of canonical order
    block = sign(cbor2.dumps(shuffled), key, DAY_CONTENT_TYPE)
    for strict in (False, True):
        report = check_block(block, ring, strict_encoding=strict)
        assert report.problems == ("payload is not deterministic CBOR (RFC 8949 §4.2.1)",)


def test_strict_encoding_catches_long_form_integers(key: Ed25519PrivateKey, ring: Ring) -> None:
    good = verify(make_chain(key, 1)[0], ring).payload
    long_step = good.replace(b"\x64step\x19\x03\x84", b"\x64step\x1a\x00\x00\x03\x84")
    block = sign(long_step, key, DAY_CONTENT_TYPE)
    assert check_block(block, ring).ok  # the default check looks at key order only
    assert not check_block(block, ring, strict_encoding=True).ok


def test_chains_are_per_allocation_point(key: Ed25519PrivateKey, ring: Ring) -> None:
    one = make_chain(key, 3)
    two = make_chain(key, 2, ap="871687120000000028")
    result = run([one[0], two[0], one[1], two[1], one[2]], ring)
    assert result.ok and result.gaps == ()


def test_several_gateway_keys(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    blocks = make_chain(key, 2) + make_chain(other, 2, ap="871687120000000028")
    assert run(blocks, keyring(key.public_key(), other.public_key())).ok


def test_garbage_input_is_a_failure_not_a_crash(ring: Ring) -> None:
    result = verify_blocks([("empty", b""), ("text", b"hello")], ring)
    assert result.failures == 2 and result.gaps == ()


def test_end_of_day_boundary_is_allowed(key: Ed25519PrivateKey, ring: Ring) -> None:
    block = resign(make_chain(key, 1)[0], key, lambda p: p.update(created="2026-03-01T23:00:00Z"))
    assert check_block(block, ring).ok


def test_a_gateway_may_sign_only_for_itself(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    ring = keyring(key.public_key(), other.public_key())
    blocks = make_chain(key, 2)
    owners = {GW: key_id(key)}
    assert run(blocks, ring, gateway_kids=owners).ok
    assert not run(blocks, ring, gateway_kids={GW: key_id(other)}).ok
    report = check_block(make_chain(other, 1)[0], ring, gateway_kids=owners)
    assert report.problems == (f"kid {key_id(other).hex()} is not the key of gateway '{GW}'",)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats()
    | st.text(max_size=12)
    | st.binary(max_size=40)
)
_cbor_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_signed_payload_gives_a_report_never_a_crash(
    key: Ed25519PrivateKey, ring: Ring, data: st.DataObject
) -> None:
    payload = decode_payload(verify(make_chain(key, 1)[0], ring).payload)
    for name in data.draw(st.lists(st.sampled_from(sorted(payload)), min_size=1, max_size=4)):
        payload[name] = data.draw(_cbor_values)
    readings = payload["readings"]
    if type(readings) is dict and readings and data.draw(st.booleans()):
        register = data.draw(st.sampled_from(sorted(readings)))
        readings[register] = data.draw(st.lists(_cbor_values, max_size=98))
    block = sign(cbor2.dumps(payload, canonical=True), key, DAY_CONTENT_TYPE)
    other = make_chain(key, 2)
    result = run([other[0], block, other[1]], ring, gateway_kids={GW: key_id(key)})
    assert [r.source for r in result.reports] == ["b0", "b1", "b2"]
    assert result.reports[0].ok  # the neighbours' verdicts do not depend on the odd one
    assert all(type(p) is str for r in result.reports for p in r.problems)
