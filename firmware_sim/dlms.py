"""DLMS general-global-cipher frames (Luxembourg Smarty, Austrian Sagemcom).

Strategy: the header is declared once with `construct` (the same layout as the fixtures in
tests/data/encrypted); the payload is AES-128-GCM with IV = system title || invocation counter
and AAD = security control || authentication key, and the tag cut to 12 bytes like the meters.
"""

from __future__ import annotations

from construct import Bytes, Const, Int8ub, Int16ub, Int32ub, Struct
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SECURITY_CONTROL = 0x30  # suite 0, authenticated and encrypted
TAG_LEN = 12
DEFAULT_KEY = bytes.fromhex("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
DEFAULT_AUTH_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")  # Smarty's public AK

HEADER = Struct(
    "tag" / Const(b"\xdb"),
    "title_len" / Const(b"\x08"),
    "system_title" / Bytes(8),
    "long_form" / Const(b"\x82"),
    "length" / Int16ub,  # security control + invocation counter + ciphertext + tag
    "security_control" / Int8ub,
    "invocation_counter" / Int32ub,
)
HEADER_LEN: int = HEADER.sizeof()


def encrypt_frame(
    plaintext: bytes, key: bytes, auth_key: bytes, system_title: bytes, counter: int
) -> bytes:
    """One complete frame around `plaintext` (a whole telegram, CRC included)."""
    if len(system_title) != 8:
        raise ValueError("a DLMS system title is 8 bytes")
    iv = system_title + counter.to_bytes(4, "big")
    enc = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    enc.authenticate_additional_data(bytes([SECURITY_CONTROL]) + auth_key)
    ciphertext = enc.update(plaintext) + enc.finalize()
    head = HEADER.build(
        {
            "system_title": system_title,
            "length": 5 + len(ciphertext) + TAG_LEN,
            "security_control": SECURITY_CONTROL,
            "invocation_counter": counter,
        }
    )
    return bytes(head) + ciphertext + enc.tag[:TAG_LEN]


def decrypt_frame(frame: bytes, key: bytes, auth_key: bytes) -> bytes:
    """The plaintext of one frame; checks the 12-byte tag (tests and replay use it)."""
    head = HEADER.parse(frame[:HEADER_LEN])
    end = HEADER_LEN - 5 + head.length
    body, tag = frame[HEADER_LEN : end - TAG_LEN], frame[end - TAG_LEN : end]
    iv = bytes(head.system_title) + int(head.invocation_counter).to_bytes(4, "big")
    dec = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=TAG_LEN)).decryptor()
    dec.authenticate_additional_data(bytes([head.security_control]) + auth_key)
    plain: bytes = dec.update(body) + dec.finalize()
    return plain


def frame_length(frame: bytes) -> int:
    """Total length of the frame starting at frame[0], from its header."""
    length: int = HEADER.parse(frame[:HEADER_LEN]).length
    return HEADER_LEN - 5 + length
