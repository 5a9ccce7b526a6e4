"""DLMS general-global-cipher frames (Luxembourg Smarty, Austrian Sagemcom): AES-128-GCM.

Layout: `DB | 08 | system title (8) | length (BER: <0x80, 81 xx or 82 xx xx) | security control |
invocation counter (4) | ciphertext | GCM tag (12)`. The IV is system title + invocation counter,
the additional data is the security control byte + the authentication key. Without an
authentication key the frame is decrypted as GCM's underlying counter mode, unauthenticated: the
telegram's own CRC then gives integrity, as the meters' users expect.
"""

from __future__ import annotations

from dataclasses import dataclass

from construct import (  # type: ignore[import-untyped]
    Byte,
    Bytes,
    Const,
    ConstructError,
    Int16ub,
    Int32ub,
    Struct,
    Switch,
    this,
)
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from edge.errors import DecryptionError

TAG_LENGTH = 12

_LENGTH = Struct(
    "marker" / Byte,
    "value" / Switch(this.marker, {0x81: Byte, 0x82: Int16ub}, default=Struct()),
)

GENERAL_GLOBAL_CIPHER = Struct(
    "tag" / Const(b"\xdb"),
    "system_title_length" / Const(b"\x08"),
    "system_title" / Bytes(8),
    "length" / _LENGTH,
    "security_control" / Byte,
    "invocation_counter" / Int32ub,
)


@dataclass(frozen=True, slots=True)
class CipherHeader:
    system_title: bytes
    security_control: int
    invocation_counter: int
    payload_offset: int  # first ciphertext byte
    payload_length: int  # security control .. tag


def parse_header(frame: bytes) -> CipherHeader:
    """Parse and check the header of a general-global-cipher frame."""
    try:
        parsed = GENERAL_GLOBAL_CIPHER.parse(frame)
    except ConstructError as exc:
        raise DecryptionError(f"not a DLMS general-global-cipher frame: {exc}") from None
    marker = parsed.length.marker
    length = marker if marker < 0x80 else parsed.length.value
    length_bytes = 1 if marker < 0x80 else 1 + (marker & 0x7F)
    offset = 10 + length_bytes + 5
    if len(frame) != 10 + length_bytes + length:
        actual = len(frame) - 10 - length_bytes
        raise DecryptionError(f"DLMS length field says {length} bytes, the frame has {actual}")
    if length < 5 + TAG_LENGTH:
        raise DecryptionError("DLMS frame too short for a GCM tag")
    return CipherHeader(
        bytes(parsed.system_title),
        parsed.security_control,
        parsed.invocation_counter,
        offset,
        length,
    )


def decrypt(frame: bytes, key: bytes, auth_key: bytes | None = None) -> bytes:
    """Return the plaintext telegram inside `frame`; check the GCM tag when `auth_key` is given."""
    if len(key) != 16:
        raise DecryptionError("the decryption key must be 16 bytes (32 hex digits)")
    header = parse_header(frame)
    iv = header.system_title + header.invocation_counter.to_bytes(4, "big")
    ciphertext = frame[header.payload_offset : -TAG_LENGTH]
    tag = frame[-TAG_LENGTH:]
    if auth_key is None:
        # GCM encrypts with CTR starting at counter 2 (counter 1 is for the tag).
        ctr = Cipher(algorithms.AES(key), modes.CTR(iv + b"\x00\x00\x00\x02")).decryptor()
        return ctr.update(ciphertext) + ctr.finalize()
    gcm = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=TAG_LENGTH)).decryptor()
    gcm.authenticate_additional_data(bytes([header.security_control]) + auth_key)
    try:
        return gcm.update(ciphertext) + gcm.finalize()
    except InvalidTag:
        raise DecryptionError(
            "GCM authentication failed: wrong key or authentication key"
        ) from None
