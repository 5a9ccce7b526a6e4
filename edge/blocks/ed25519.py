"""Ed25519 signature checks: libsodium (PyNaCl) when it is installed, else cryptography (OpenSSL).

Strategy: the signature check is most of the grid verifier's time. On the project's reference
machine libsodium checks a day block in about 55 % of the time OpenSSL takes (67 µs vs 122 µs),
and that is the difference between missing and meeting the 5 000 blocks/s target. Both follow
RFC 8032 and accept every signature a correct signer makes (ours signs with cryptography);
libsodium is stricter only on crafted edge cases (small-order keys, non-canonical points), which
it refuses. PyNaCl is optional: without it everything works, just slower. Keys are always
cryptography objects, and signing always uses cryptography.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

Check = Callable[[Ed25519PublicKey, bytes, bytes], None]
"""check(public_key, signature, message): returns, or raises `InvalidSignature`."""


def _check_openssl(key: Ed25519PublicKey, signature: bytes, message: bytes) -> None:
    key.verify(signature, message)


def _load_sodium() -> Check | None:
    try:  # imported by name: an optional dependency the type checker need not know
        bindings = importlib.import_module("nacl.bindings")
        exceptions = importlib.import_module("nacl.exceptions")
    except ImportError:
        return None
    sign_open = bindings.crypto_sign_open
    bad_signature: type[Exception] = exceptions.BadSignatureError

    def check(key: Ed25519PublicKey, signature: bytes, message: bytes) -> None:
        if len(signature) != 64:
            raise InvalidSignature
        try:
            sign_open(signature + message, key.public_bytes_raw())
        except bad_signature:
            raise InvalidSignature from None

    return check


_sodium = _load_sodium()

CHECKS: dict[str, Check] = {"cryptography": _check_openssl}
if _sodium is not None:
    CHECKS["libsodium"] = _sodium

BACKEND = "libsodium" if "libsodium" in CHECKS else "cryptography"
"""The backend `check` uses: the fastest one installed."""

check: Check = CHECKS[BACKEND]
