"""Keys and chains for the verifier tests."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.blocks.cose import keyring


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def ring(key: Ed25519PrivateKey) -> dict[bytes, Ed25519PublicKey]:
    return keyring(key.public_key())
