"""COSE_Sign1: our envelope verified independently (plain cbor2 + cryptography, and pycose),
and our verifier's refusals of everything that is not exactly our profile."""

from __future__ import annotations

import hashlib

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.blocks.cose import DAY_CONTENT_TYPE, key_id, keyring, sign, verify
from edge.errors import BlockError, SignatureError

PAYLOAD = cbor2.dumps({"v": 1, "hello": "grid"}, canonical=True)


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_independent_verification_with_plain_cbor2_and_cryptography(
    key: Ed25519PrivateKey,
) -> None:
    message = sign(PAYLOAD, key, DAY_CONTENT_TYPE)
    assert message[:2] == b"\xd2\x84"  # tag 18, array of 4
    tagged = cbor2.loads(message)
    assert isinstance(tagged, cbor2.CBORTag) and tagged.tag == 18
    protected, unprotected, payload, signature = tagged.value
    assert cbor2.loads(protected) == {
        1: -8,
        3: "application/vnd.p1edge.day+cbor",
        4: hashlib.sha256(raw(key)).digest()[:8],
    }
    assert protected == cbor2.dumps(cbor2.loads(protected), canonical=True)
    assert unprotected == {}
    assert payload == PAYLOAD  # attached, byte for byte
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])  # RFC 9052 §4.4
    Ed25519PublicKey.from_public_bytes(raw(key)).verify(signature, to_be_signed)


def _pycose_message(message: bytes):  # type: ignore[no-untyped-def]
    from pycose.messages import Sign1Message

    # Sign1Message.decode() refuses cbor2 >= 6 output: cbor2 now decodes arrays inside a tag as
    # tuples and maps as frozendict, which pycose 1.1 rejects (pycose issue #141). The bytes are
    # fine; hand pycose the decoded array as the list it expects.
    protected, unprotected, payload, signature = cbor2.loads(message).value
    return Sign1Message.from_cose_obj([protected, dict(unprotected), payload, signature], True)


def test_pycose_verifies_our_envelope(key: Ed25519PrivateKey) -> None:
    from pycose.algorithms import EdDSA
    from pycose.headers import KID, Algorithm, ContentType
    from pycose.keys import OKPKey
    from pycose.keys.curves import Ed25519

    message = _pycose_message(sign(PAYLOAD, key, DAY_CONTENT_TYPE))
    assert message.phdr[Algorithm] is EdDSA
    assert message.phdr[KID] == key_id(key)
    assert message.phdr[ContentType] == DAY_CONTENT_TYPE
    message.key = OKPKey(crv=Ed25519, x=raw(key))
    assert message.verify_signature()
    assert message.payload == PAYLOAD


def test_pycose_rejects_a_tampered_envelope(key: Ed25519PrivateKey) -> None:
    from pycose.keys import OKPKey
    from pycose.keys.curves import Ed25519

    data = bytearray(sign(PAYLOAD, key, DAY_CONTENT_TYPE))
    data[-70] ^= 1  # inside the payload
    message = _pycose_message(bytes(data))
    message.key = OKPKey(crv=Ed25519, x=raw(key))
    assert not message.verify_signature()


def test_we_verify_what_pycose_signs(key: Ed25519PrivateKey) -> None:
    from pycose.algorithms import EdDSA
    from pycose.headers import KID, Algorithm, ContentType
    from pycose.keys import OKPKey
    from pycose.keys.curves import Ed25519
    from pycose.messages import Sign1Message

    private = key.private_bytes_raw()
    message = Sign1Message(
        phdr={Algorithm: EdDSA, ContentType: DAY_CONTENT_TYPE, KID: key_id(key)},
        payload=PAYLOAD,
        key=OKPKey(crv=Ed25519, d=private, x=raw(key)),
    )
    verified = verify(message.encode(), key.public_key(), content_type=DAY_CONTENT_TYPE)
    assert verified.payload == PAYLOAD


def test_round_trip_with_a_key_and_with_a_keyring(
    key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    message = sign(PAYLOAD, key, DAY_CONTENT_TYPE)
    by_key = verify(message, key.public_key(), content_type=DAY_CONTENT_TYPE)
    by_ring = verify(message, keyring(other_key.public_key(), key.public_key()))
    assert by_key == by_ring
    assert by_key.payload == PAYLOAD
    assert by_key.kid == key_id(key) == hashlib.sha256(raw(key)).digest()[:8]
    assert by_key.content_type == DAY_CONTENT_TYPE


def test_signing_is_deterministic(key: Ed25519PrivateKey) -> None:
    # Ed25519 signatures are deterministic: same key and payload, same bytes
    assert sign(PAYLOAD, key, DAY_CONTENT_TYPE) == sign(PAYLOAD, key, DAY_CONTENT_TYPE)


@pytest.mark.parametrize("where", [-1, -64, -65, -66, 20])
def test_any_flipped_bit_is_refused(key: Ed25519PrivateKey, where: int) -> None:
    data = bytearray(sign(PAYLOAD, key, DAY_CONTENT_TYPE))
    data[where] ^= 0x01
    with pytest.raises((SignatureError, BlockError)):
        verify(bytes(data), key.public_key())


def test_tampered_payload_is_a_signature_error(key: Ed25519PrivateKey) -> None:
    protected, _, payload, signature = cbor2.loads(sign(PAYLOAD, key, DAY_CONTENT_TYPE)).value
    forged_payload = payload.replace(b"grid", b"gird")
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, forged_payload, signature]))
    with pytest.raises(SignatureError, match="does not verify"):
        verify(forged, key.public_key())


def _resigned_header(key: Ed25519PrivateKey, header: dict[int, object]) -> bytes:
    protected = cbor2.dumps(header, canonical=True)
    signature = key.sign(cbor2.dumps(["Signature1", protected, b"", PAYLOAD]))
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, PAYLOAD, signature]))


def test_kid_checks(key: Ed25519PrivateKey, other_key: Ed25519PrivateKey) -> None:
    message = sign(PAYLOAD, key, DAY_CONTENT_TYPE)
    with pytest.raises(SignatureError, match="unknown kid"):
        verify(message, keyring(other_key.public_key()))
    with pytest.raises(SignatureError, match="does not match"):
        verify(message, other_key.public_key())
    # a valid signature under a kid that is not the signer's: the kid is part of the contract
    lying = _resigned_header(key, {1: -8, 3: DAY_CONTENT_TYPE, 4: key_id(other_key)})
    with pytest.raises(SignatureError, match="does not match"):
        verify(lying, key.public_key())
    with pytest.raises(SignatureError, match="does not verify"):
        verify(lying, keyring(other_key.public_key()))


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ({1: -7, 3: DAY_CONTENT_TYPE, 4: "KID"}, "not EdDSA"),
        ({1: -8, 3: DAY_CONTENT_TYPE}, "labels"),  # no kid
        ({1: -8, 3: 60, 4: "KID"}, "content type"),
        ({1: -8, 2: [1], 3: DAY_CONTENT_TYPE, 4: "KID"}, "labels"),  # crit
    ],
)
def test_protected_header_profile(
    key: Ed25519PrivateKey, header: dict[int, object], match: str
) -> None:
    header = {k: key_id(key) if v == "KID" else v for k, v in header.items()}
    with pytest.raises(BlockError, match=match):
        verify(_resigned_header(key, header), key.public_key())


def test_short_kid_is_refused(key: Ed25519PrivateKey) -> None:
    message = _resigned_header(key, {1: -8, 3: DAY_CONTENT_TYPE, 4: key_id(key)[:4]})
    with pytest.raises(BlockError, match="8-byte kid"):
        verify(message, key.public_key())


def test_content_type_is_checked(key: Ed25519PrivateKey) -> None:
    message = sign(PAYLOAD, key, "application/vnd.p1edge.request+cbor")
    with pytest.raises(BlockError, match="content type"):
        verify(message, key.public_key(), content_type=DAY_CONTENT_TYPE)


def test_non_canonical_protected_header_is_refused(key: Ed25519PrivateKey) -> None:
    header = {4: key_id(key), 3: DAY_CONTENT_TYPE, 1: -8}  # not sorted
    protected = cbor2.dumps(header)
    signature = key.sign(cbor2.dumps(["Signature1", protected, b"", PAYLOAD]))
    message = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, PAYLOAD, signature]))
    with pytest.raises(BlockError, match="deterministic"):
        verify(message, key.public_key())


@pytest.mark.parametrize(
    "mangle",
    [
        lambda m: m + b"\x00",  # trailing bytes
        lambda m: m[1:],  # untagged COSE_Sign1
        lambda m: b"\xd1" + m[1:],  # tag 17 (COSE_Mac0)
        lambda m: m[:2] + b"\x58" + bytes([m[2] - 0x40]) + m[3:],  # long-form length
        lambda m: b"",
        lambda m: cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""])),
        lambda m: cbor2.dumps(cbor2.CBORTag(18, "not an array")),
    ],
)
def test_malformed_envelopes_are_block_errors(key: Ed25519PrivateKey, mangle) -> None:  # type: ignore[no-untyped-def]
    message = sign(PAYLOAD, key, DAY_CONTENT_TYPE)
    with pytest.raises(BlockError):
        verify(mangle(message), key.public_key())


def test_unprotected_header_must_be_empty(key: Ed25519PrivateKey) -> None:
    protected, _, payload, signature = cbor2.loads(sign(PAYLOAD, key, DAY_CONTENT_TYPE)).value
    message = cbor2.dumps(cbor2.CBORTag(18, [protected, {4: b"x"}, payload, signature]))
    with pytest.raises(BlockError, match="unprotected"):
        verify(message, key.public_key())


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_fuzz_mutations_raise_only_our_errors(data: st.DataObject) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    message = bytearray(sign(PAYLOAD, key, DAY_CONTENT_TYPE))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(message) - 1))
        message[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(message)))
    try:
        verified = verify(bytes(message[:cut]), key.public_key())
    except (BlockError, SignatureError):
        return
    assert verified.payload == PAYLOAD  # only an unchanged message may verify


def test_protected_header_cache_evicts_oldest_not_all(monkeypatch: pytest.MonkeyPatch) -> None:
    # more gateways than cache entries: clearing the whole cache made every header a miss again
    from edge.blocks import cose

    monkeypatch.setattr(cose, "_header_cache", {})
    size = cose._HEADER_CACHE_SIZE
    headers = [
        cbor2.dumps({1: -8, 3: DAY_CONTENT_TYPE, 4: i.to_bytes(8, "big")}, canonical=True)
        for i in range(size + 1)
    ]
    for protected in headers:
        assert cose._decode_protected(protected)[4] == protected[-8:]
    assert len(cose._header_cache) == size
    assert headers[0] not in cose._header_cache
    assert all(h in cose._header_cache for h in headers[1:])
