"""The Ed25519 check backends agree: libsodium (when PyNaCl is installed) and cryptography."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.blocks import ed25519

BACKENDS = sorted(ed25519.CHECKS)


def test_the_fastest_installed_backend_is_used() -> None:
    expected = "libsodium" if "libsodium" in ed25519.CHECKS else "cryptography"
    assert expected == ed25519.BACKEND
    assert ed25519.check is ed25519.CHECKS[expected]


@pytest.mark.parametrize("backend", BACKENDS)
def test_accepts_good_and_refuses_bad_signatures(backend: str) -> None:
    check = ed25519.CHECKS[backend]
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    message = b"day block" * 300
    signature = key.sign(message)
    check(key.public_key(), signature, message)
    for bad_signature, bad_message in [
        (signature, message + b"!"),
        (bytes([signature[0] ^ 1]) + signature[1:], message),
        (signature[:63], message),
        (signature + b"\x00", message),
        (b"", message),
    ]:
        with pytest.raises(InvalidSignature):
            check(key.public_key(), bad_signature, bad_message)
    with pytest.raises(InvalidSignature):
        check(Ed25519PrivateKey.generate().public_key(), signature, message)


def test_backends_agree_on_many_signatures() -> None:
    if "libsodium" not in ed25519.CHECKS:
        pytest.skip("PyNaCl is not installed: only the cryptography backend is available")
    for seed in range(50):
        key = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
        message = bytes([seed]) * (seed * 37)
        signature = key.sign(message)
        flipped = bytes([signature[seed % 64] ^ (1 << seed % 8)])
        forged = signature[: seed % 64] + flipped + signature[seed % 64 + 1 :]
        for backend in BACKENDS:
            ed25519.CHECKS[backend](key.public_key(), signature, message)
            with pytest.raises(InvalidSignature):
                ed25519.CHECKS[backend](key.public_key(), forged, message)
