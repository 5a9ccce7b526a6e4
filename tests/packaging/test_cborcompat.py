"""Strict CBOR decoding is the same with cbor2 6 (native options) and cbor2 5 (our scan).

32-bit Pis install cbor2 5 (pure wheel): the scan must refuse what cbor2 6 refuses and accept
what it accepts. Both paths run here whatever cbor2 is installed (the scan is forced).
"""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.blocks import cborcompat
from edge.blocks.cborcompat import strict_loads

BAD = {
    "indefinite array": bytes.fromhex("9f0102ff"),
    "indefinite map": bytes.fromhex("bf6161 01ff"),
    "indefinite text": bytes.fromhex("7f616161 62ff"),
    "duplicate key": bytes.fromhex("a2616101616102"),
    "duplicate int key nested": bytes.fromhex("81a201010102"),
    "truncated": bytes.fromhex("83 0102"),
    "string past the end": bytes.fromhex("6561"),
    "reserved info": bytes.fromhex("1c"),
}


@pytest.fixture(params=["native", "scan"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "native":
        if not cborcompat.NATIVE:
            pytest.skip("cbor2 < 6 installed: only the scan exists here (tested below)")
    else:
        monkeypatch.setattr(cborcompat, "NATIVE", False)
    return str(request.param)


@pytest.mark.parametrize("name", sorted(BAD))
def test_refused_on_both_paths(path: str, name: str) -> None:
    with pytest.raises((cbor2.CBORDecodeError, ValueError)):
        strict_loads(BAD[name].replace(b" ", b""))


def test_duplicates_may_be_allowed_where_asked(path: str) -> None:
    assert strict_loads(bytes.fromhex("a2616101616102"), allow_duplicate_keys=True) == {"a": 2}
    with pytest.raises((cbor2.CBORDecodeError, ValueError)):
        strict_loads(bytes.fromhex("9f01ff"), allow_duplicate_keys=True)


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)


@given(VALUES)
def test_definite_unique_cbor_decodes_as_cbor2_does(value: Any) -> None:
    data = cbor2.dumps(value, canonical=True)
    assert cborcompat.scan(data, 0) == len(data)
    assert strict_loads(data) == cbor2.loads(data)


def test_a_signed_block_decodes_through_the_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    tag = cbor2.dumps(cbor2.CBORTag(18, [b"\xa1\x01\x27", {}, b"payload", b"sig"]))
    monkeypatch.setattr(cborcompat, "NATIVE", False)
    decoded = strict_loads(tag, allow_duplicate_keys=True)
    assert decoded.tag == 18 and decoded.value[2] == b"payload"
