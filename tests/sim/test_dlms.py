"""Encrypted dialects: DLMS general-global-cipher frames that a third party can decrypt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from firmware_sim.api import render
from firmware_sim.dlms import DEFAULT_AUTH_KEY, encrypt_frame
from tests.sim.conftest import peer, wh

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    ("name", "plain"),
    [("sagemcom_t210_d_r_gcm", "sagemcom_t210_d_r.txt"),
     ("luxembourg_smarty_msn_gcm", "x_luxembourg_smarty_plain.txt")],
)  # fmt: skip
def test_frames_are_byte_identical_to_the_fixtures(name: str, plain: str) -> None:
    keys = json.loads((DATA / "encrypted" / "KEYS.json").read_text())[name]
    frame = encrypt_frame(
        (DATA / plain).read_bytes(),
        bytes.fromhex(keys["encryption_key"]),
        bytes.fromhex(keys["authentication_key"]),
        bytes.fromhex(keys["system_title_hex"]),
        int(keys["invocation_counter"], 16),
    )
    assert frame == (DATA / "encrypted" / f"{name}.bin").read_bytes()


def _decrypt(frame: bytes, key: bytes, auth: bytes) -> bytes:
    """An independent decryption straight from the frame layout, with `cryptography`."""
    assert frame[:2] == b"\xdb\x08" and frame[10] == 0x82
    length = int.from_bytes(frame[11:13], "big")
    assert len(frame) == 13 + length and frame[13] == 0x30
    iv = frame[2:10] + frame[14:18]
    body, tag = frame[18:-12], frame[-12:]
    dec = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=12)).decryptor()
    dec.authenticate_additional_data(b"\x30" + auth)
    return dec.update(body) + dec.finalize()


def test_smarty_frames_decrypt_and_parse_with_crc() -> None:
    key = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
    out = render("smarty", duration="2m", seed=5, gas=True, key=key.hex())
    counters = []
    for frame in out.telegrams:
        plain = _decrypt(frame, key, DEFAULT_AUTH_KEY)
        tel = peer("smarty").parse(plain.decode())
        counters.append(int.from_bytes(frame[14:18], "big"))
        if out.times[len(counters) - 1] == out.truth[0].boundary:
            assert wh(tel.ELECTRICITY_IMPORTED_TOTAL) == out.truth[0].import_t1_wh
    assert len(counters) == 12 and counters == sorted(set(counters))
    with pytest.raises(InvalidTag):
        _decrypt(out.telegrams[0], bytes(16), DEFAULT_AUTH_KEY)


def test_sagemcom_plaintext_carries_wh_registers() -> None:
    out = render("sagemcom", duration="1m", seed=6, auth_key="BB" * 16)
    plain = _decrypt(out.telegrams[0], bytes.fromhex("AA" * 16), bytes.fromhex("BB" * 16))
    row = out.truth[0]
    assert f"1-0:1.8.1({row.import_t1_wh:09d}*Wh)".encode() in plain
    assert f"1-0:1.8.0({row.import_t1_wh + row.import_t2_wh:09d}*Wh)".encode() in plain
