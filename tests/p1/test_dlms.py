"""Encrypted DLMS frames (Luxembourg Smarty, Austrian Sagemcom): AES-128-GCM."""

from __future__ import annotations

import json

import pytest

from edge.errors import DecryptionError
from edge.p1 import P1Decoder, Rejected, decode
from edge.p1.dlms import decrypt, parse_header
from tests.conftest import DATA, fixture_bytes

KEYS = json.loads((DATA / "encrypted" / "KEYS.json").read_text())
PLAINTEXT = {
    "sagemcom_t210_d_r_gcm": "sagemcom_t210_d_r.txt",
    "luxembourg_smarty_msn_gcm": "x_luxembourg_smarty_plain.txt",
    "luxembourg_smarty_unknown_auth_gcm": "x_luxembourg_smarty_plain.txt",
}


def frame(name: str) -> bytes:
    return (DATA / "encrypted" / f"{name}.bin").read_bytes()


@pytest.mark.parametrize("name", sorted(KEYS))
def test_header_parsed(name: str) -> None:
    header = parse_header(frame(name))
    assert header.system_title == b"SYSTEMID"
    assert header.security_control == 0x30
    assert header.invocation_counter == 0x10000001
    assert len(frame(name)) == KEYS[name]["frame_len"]


@pytest.mark.parametrize("name", sorted(KEYS))
def test_decrypts_to_the_plaintext_fixture(name: str) -> None:
    key = bytes.fromhex(KEYS[name]["encryption_key"])
    auth = bytes.fromhex(KEYS[name]["authentication_key"])
    expected = fixture_bytes(PLAINTEXT[name])
    assert decrypt(frame(name), key, auth) == expected
    assert decrypt(frame(name), key, None) == expected  # no tag check: the CRC vouches
    (telegram,) = decode(frame(name), key=key, auth_key=auth)
    assert telegram.crc == "ok"


def test_unknown_authentication_key_still_decrypts_without_tag_check() -> None:
    name = "luxembourg_smarty_unknown_auth_gcm"
    key = bytes.fromhex(KEYS[name]["encryption_key"])
    public_auth = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    with pytest.raises(DecryptionError):
        decrypt(frame(name), key, public_auth)
    (telegram,) = decode(frame(name), key=key)
    assert telegram.registers.import_total == 273_764


def test_wrong_key_is_a_counted_rejection() -> None:
    decoder = P1Decoder(key=b"\x01" * 16)
    events = decoder.feed(frame("sagemcom_t210_d_r_gcm"))
    assert len(events) == 1 and isinstance(events[0], Rejected) and events[0].reason == "decrypt"
    assert decoder.stats.errors == 1


def test_no_key_configured_is_a_counted_rejection() -> None:
    decoder = P1Decoder()
    (event,) = decoder.feed(frame("sagemcom_t210_d_r_gcm"))
    assert isinstance(event, Rejected) and "no key" in event.detail


def test_tampered_ciphertext_fails_the_tag() -> None:
    data = bytearray(frame("sagemcom_t210_d_r_gcm"))
    data[40] ^= 0x01
    key = bytes.fromhex("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(DecryptionError):
        decrypt(bytes(data), key, bytes.fromhex("BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"))
    # without the authentication key the CRC catches it
    assert decode(bytes(data), key=key) == []
