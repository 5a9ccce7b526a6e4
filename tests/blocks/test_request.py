"""Signed grid operator requests: round trip, refusals reported (not raised)."""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.blocks.cose import DAY_CONTENT_TYPE, key_id, keyring, sign
from edge.blocks.request import (
    REQUEST_CONTENT_TYPE,
    Request,
    decode_request,
    encode_request,
    open_request,
    sign_request,
)
from edge.errors import BlockError

READOUT = Request("readout", "gw-0001", "871687120000000011", "req-1", 1_790_000_000, 1_790_000_600)
CONSENT = Request(
    "consent", "gw-0001", "871687120000000011", "req-2", 1_790_000_000, 1_790_000_600, "opt-out"
)


WITH_DAY = Request("readout", "g", "a", "i", 1, 2, day="2026-03-29")


@pytest.mark.parametrize("request_", [READOUT, CONSENT, WITH_DAY])
def test_round_trip(key: Ed25519PrivateKey, request_: Request) -> None:
    message = sign_request(request_, key)
    opened = open_request(message, keyring(key.public_key()))
    assert opened.request == request_
    assert opened.signature_valid
    assert opened.kid == key_id(key)
    assert opened.problem is None


def test_payload_is_deterministic_cbor_with_exact_keys() -> None:
    body = cbor2.loads(encode_request(CONSENT))
    assert body == {
        "type": "consent",
        "gw": "gw-0001",
        "ap": "871687120000000011",
        "id": "req-2",
        "iat": 1_790_000_000,
        "exp": 1_790_000_600,
        "consent": "opt-out",
    }
    assert cbor2.dumps(body, canonical=True) == encode_request(CONSENT)
    assert "consent" not in cbor2.loads(encode_request(READOUT))


def test_content_type_is_the_request_type(key: Ed25519PrivateKey) -> None:
    protected = cbor2.loads(sign_request(READOUT, key)).value[0]
    assert cbor2.loads(protected)[3] == REQUEST_CONTENT_TYPE


def test_forged_request_is_reported_with_its_content(
    key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    forged = sign_request(READOUT, other_key)
    opened = open_request(forged, keyring(key.public_key()))
    assert not opened.signature_valid
    # nothing of an unverified message is converted: only its id, so the refusal can name it
    assert opened.request is None and opened.claimed_id == "req-1"
    assert opened.problem is not None and "unknown kid" in opened.problem


def test_tampered_request_is_reported(key: Ed25519PrivateKey) -> None:
    message = sign_request(READOUT, key).replace(b"req-1", b"req-9")
    opened = open_request(message, key.public_key())
    assert not opened.signature_valid
    assert opened.request is None and opened.claimed_id == "req-9"


@pytest.mark.parametrize("garbage", [b"", b"\xd2\x84", cbor2.dumps("hello")])
def test_garbage_is_reported_not_raised(key: Ed25519PrivateKey, garbage: bytes) -> None:
    opened = open_request(garbage, key.public_key())
    assert (opened.request, opened.signature_valid) == (None, False)
    assert opened.problem


def test_a_day_block_is_not_a_request(key: Ed25519PrivateKey) -> None:
    message = sign(encode_request(READOUT), key, DAY_CONTENT_TYPE)
    opened = open_request(message, key.public_key())
    assert not opened.signature_valid
    assert opened.problem is not None and "content type" in opened.problem


def test_signed_but_malformed_payload(key: Ed25519PrivateKey) -> None:
    body = cbor2.dumps({"type": "readout", "gw": "g"}, canonical=True)
    opened = open_request(sign(body, key, REQUEST_CONTENT_TYPE), key.public_key())
    assert opened.signature_valid and opened.request is None and opened.problem


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "delete"},
        {"consent": "opt-out"},  # on a readout
        {"type": "consent"},  # without consent
        {"type": "consent", "consent": "maybe"},
        {"exp": 1_789_999_999},
        {"iat": 1.5},
        {"id": ""},
        {"day": "29-03-2026"},
        {"type": "consent", "consent": "opt-in", "day": "2026-03-29"},
    ],
)
def test_invalid_requests_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(BlockError):
        Request(**{**_fields(READOUT), **fields})  # type: ignore[arg-type]


def test_unknown_payload_keys_are_refused() -> None:
    body = {**_fields(READOUT), "extra": 1}
    del body["consent"], body["day"]
    with pytest.raises(BlockError, match="keys"):
        decode_request(cbor2.dumps(body, canonical=True))


def _fields(request: Request) -> dict[str, object]:
    return {name: getattr(request, name) for name in Request.__dataclass_fields__}


RESEND = Request("resend", "gw-0001", "871687120000000011", "req-3", 1_790_000_000, 1_790_000_600,
                 from_seq=4, to_seq=9)  # fmt: skip


def test_resend_round_trip(key: Ed25519PrivateKey) -> None:
    opened = open_request(sign_request(RESEND, key), key.public_key())
    assert opened.request == RESEND
    assert cbor2.loads(encode_request(RESEND))["from_seq"] == 4


@pytest.mark.parametrize(
    "fields",
    [
        {"iat": 10**12, "exp": 10**12 + 1},  # year 33658: datetime cannot hold it
        {"iat": -(10**12)},
        {"exp": 2**32},
        {"id": "x" * 65},
        {"ap": "871\n"},
        {"type": "resend", "from_seq": 0, "to_seq": 3},
        {"type": "resend", "from_seq": 1, "to_seq": 10**6},  # a bounded range
        {"type": "resend", "from_seq": 5},
        {"from_seq": 1, "to_seq": 2},  # on a readout
    ],
)
def test_fields_out_of_range_are_refused_even_when_signed(
    key: Ed25519PrivateKey, fields: dict[str, object]
) -> None:
    body = {"type": "readout", "gw": "g", "ap": "a", "id": "i", "iat": 1, "exp": 2, **fields}
    opened = open_request(sign(cbor2.dumps(body), key, REQUEST_CONTENT_TYPE), key.public_key())
    assert opened.signature_valid and opened.request is None and opened.problem


def test_size_is_checked_before_anything_is_decoded(key: Ed25519PrivateKey) -> None:
    big = sign_request(READOUT, key) + b"\0" * 5000
    opened = open_request(big, key.public_key())
    assert opened.request is None and not opened.signature_valid and opened.kid is None
    assert opened.problem is not None and "at most 4096" in opened.problem


def test_a_forged_huge_id_is_echoed_cut_short(
    key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    body = {"type": "readout", "gw": "g", "ap": "a", "id": "x" * 3000, "iat": 1, "exp": 2}
    opened = open_request(
        sign(cbor2.dumps(body), other_key, REQUEST_CONTENT_TYPE), key.public_key()
    )
    assert opened.claimed_id == "x" * 64
