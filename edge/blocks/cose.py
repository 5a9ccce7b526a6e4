"""COSE_Sign1 (RFC 9052 §4.2) with Ed25519: the envelope of day blocks and operator requests.

Strategy: our profile is the smallest standard one, so any COSE library can verify it: tag 18,
protected header {1: -8 (EdDSA), 3: content type, 4: kid} in deterministic CBOR, an empty
unprotected header, the payload attached, and the signature over
``["Signature1", protected, b"", payload]``. The verifier works on the received bytes as they
are (never re-serialised) and is strict: it accepts only the shortest encoding of the envelope
with nothing after it, so one message has exactly one spelling. It decodes once with cbor2 and
checks the signature once (`edge.blocks.ed25519`: libsodium if installed, else cryptography);
that keeps it near the cost of the Ed25519 check itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from edge.blocks import ed25519
from edge.blocks.cborcompat import strict_loads
from edge.errors import BlockError, SignatureError

COSE_SIGN1_TAG = 18
HEADER_ALG = 1
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
ALG_EDDSA = -8
KID_SIZE = 8
SIGNATURE_SIZE = 64
DAY_CONTENT_TYPE = "application/vnd.p1edge.day+cbor"

KeyRing = Mapping[bytes, Ed25519PublicKey]
"""Public keys by kid, as built by `keyring`."""


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    """A COSE_Sign1 message whose signature checked out."""

    protected: Mapping[int, Any]
    payload: bytes
    kid: bytes
    content_type: str


def raw_public_key(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key (of a private key: its public half)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """The kid of a key: the first 8 bytes of SHA-256 of its raw 32-byte public key."""
    return hashlib.sha256(raw_public_key(key)).digest()[:KID_SIZE]


def keyring(*keys: Ed25519PublicKey) -> dict[bytes, Ed25519PublicKey]:
    """Index public keys by kid for `verify`."""
    return {key_id(key): key for key in keys}


def sign(payload: bytes, key: Ed25519PrivateKey, content_type: str) -> bytes:
    """Sign `payload` (kept as is) and return the tagged COSE_Sign1 bytes."""
    protected = cbor2.dumps(
        {HEADER_ALG: ALG_EDDSA, HEADER_CONTENT_TYPE: content_type, HEADER_KID: key_id(key)},
        canonical=True,
    )
    signature = key.sign(_to_be_signed(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def _to_be_signed(protected: bytes, payload: bytes) -> bytes:
    # RFC 9052 §4.4 Sig_structure; external_aad is empty in our profile
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _bstr_size(length: int) -> int:
    """Size of a byte string's shortest CBOR encoding (head + content)."""
    if length < 24:
        return 1 + length
    if length < 0x100:
        return 2 + length
    if length < 0x10000:
        return 3 + length
    return (5 if length < 0x100000000 else 9) + length


def decode_envelope(cose_bytes: bytes) -> tuple[bytes, Mapping[int, Any], bytes, bytes]:
    """Split COSE_Sign1 bytes into (protected bytes, protected map, payload, signature).

    Does NOT verify the signature; raises `BlockError` if the bytes are not our profile.
    """
    split = _split_profile(cose_bytes)
    if split is not None:  # the one shortest spelling of our profile: no generic decoder needed
        protected, payload, signature = split
        return protected, _decode_protected(protected), payload, signature
    try:
        message = strict_loads(cose_bytes, allow_duplicate_keys=True)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise BlockError(f"not CBOR: {exc}") from exc
    if type(message) is not cbor2.CBORTag or message.tag != COSE_SIGN1_TAG:
        raise BlockError("not a tagged COSE_Sign1 message (CBOR tag 18)")
    items = message.value
    if type(items) not in (list, tuple) or len(items) != 4:
        raise BlockError("COSE_Sign1 must be an array of 4 items")
    protected, unprotected, payload, signature = items
    if not (type(protected) is type(payload) is type(signature) is bytes):
        raise BlockError("COSE_Sign1 protected header, payload and signature must be bstr")
    if unprotected != {}:
        raise BlockError("the unprotected header must be empty in this profile")
    # shortest form, nothing trailing: any other spelling of the envelope is longer than this
    expected = 3 + _bstr_size(len(protected)) + _bstr_size(len(payload)) + 2 + SIGNATURE_SIZE
    if len(signature) != SIGNATURE_SIZE or len(cose_bytes) != expected:
        raise BlockError("COSE_Sign1 envelope is not in shortest form or has trailing bytes")
    header = _decode_protected(protected)
    return protected, header, payload, signature


def _split_profile(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """`D2 84 <bstr protected> A0 <bstr payload> 58 40 <signature>` in shortest form, or None.

    The verifier's hot path (thousands of blocks a second): slicing the known layout costs a
    fraction of a generic CBOR decode. Anything else goes the generic way and gets its error.
    """
    if data[:2] != b"\xd2\x84":
        return None
    protected = _bstr_at(data, 2)
    if protected is None or data[protected[1] : protected[1] + 1] != b"\xa0":
        return None
    payload = _bstr_at(data, protected[1] + 1)
    if payload is None:
        return None
    end = payload[1]
    if data[end : end + 2] != b"\x58\x40" or len(data) != end + 2 + SIGNATURE_SIZE:
        return None
    return protected[0], payload[0], data[end + 2 :]


def _bstr_at(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """The byte string whose head is at `pos` (shortest length form only) and its end."""
    if pos >= len(data) or data[pos] >> 5 != 2:
        return None
    info = data[pos] & 0x1F
    if info < 24:
        length, start = info, pos + 1
    elif 24 <= info <= 26:
        width = 1 << (info - 24)
        length, start = int.from_bytes(data[pos + 1 : pos + 1 + width], "big"), pos + 1 + width
        if length < (24 if width == 1 else 1 << (8 * width // 2)):
            return None  # a longer head than needed: not the shortest form
    else:
        return None
    end = start + length
    return (data[start:end], end) if end <= len(data) else None


_header_cache: dict[bytes, Mapping[int, Any]] = {}
_HEADER_CACHE_SIZE = 4096


def _decode_protected(protected: bytes) -> Mapping[int, Any]:
    # every block of one gateway has the same protected header: decode and check it once
    header = _header_cache.get(protected)
    if header is None:
        header = MappingProxyType(_check_protected(protected))  # shared: read-only
        if len(_header_cache) >= _HEADER_CACHE_SIZE:
            # evict the oldest entry (dicts keep insertion order), not the whole cache: with
            # more gateways than entries, clearing made every header a miss again right after
            del _header_cache[next(iter(_header_cache))]
        _header_cache[protected] = header
    return header


def _check_protected(protected: bytes) -> dict[int, Any]:
    try:
        header = strict_loads(protected)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise BlockError(f"protected header is not CBOR: {exc}") from exc
    if type(header) is not dict or cbor2.dumps(header, canonical=True) != protected:
        raise BlockError("protected header is not a deterministically encoded map")
    if header.keys() != {HEADER_ALG, HEADER_CONTENT_TYPE, HEADER_KID}:
        # no crit, no IV, nothing we would have to understand: exactly alg, content type, kid
        raise BlockError(f"protected header labels {sorted(map(repr, header))} are not [1, 3, 4]")
    if header.get(HEADER_ALG) != ALG_EDDSA:
        raise BlockError(f"algorithm {header.get(HEADER_ALG)!r} is not EdDSA (-8)")
    kid = header.get(HEADER_KID)
    if type(kid) is not bytes or len(kid) != KID_SIZE:
        raise BlockError("protected header has no 8-byte kid")
    if type(header.get(HEADER_CONTENT_TYPE)) is not str:
        raise BlockError("protected header has no text content type")
    return header


def verify(
    cose_bytes: bytes,
    keys: KeyRing | Ed25519PublicKey,
    *,
    content_type: str | None = None,
) -> VerifiedMessage:
    """Verify COSE_Sign1 bytes against one public key or a kid-indexed key ring.

    With `content_type`, the message must carry exactly that content type. Raises `BlockError`
    for a malformed message and `SignatureError` for an unknown kid, a kid that does not belong
    to the given key, or a signature that does not verify.
    """
    protected, header, payload, signature = decode_envelope(cose_bytes)
    kid: bytes = header[HEADER_KID]
    found_type: str = header[HEADER_CONTENT_TYPE]
    if content_type is not None and found_type != content_type:
        raise BlockError(f"content type {found_type!r}, expected {content_type!r}")
    if isinstance(keys, Ed25519PublicKey):
        if key_id(keys) != kid:
            raise SignatureError(f"kid {kid.hex()} does not match the public key")
        key = keys
    else:
        found = keys.get(kid)
        if found is None:
            raise SignatureError(f"unknown kid {kid.hex()}")
        key = found
    try:
        ed25519.check(key, signature, _to_be_signed(protected, payload))
    except InvalidSignature:
        raise SignatureError(f"signature does not verify (kid {kid.hex()})") from None
    return VerifiedMessage(protected=header, payload=payload, kid=kid, content_type=found_type)
