"""Keys and chains for the verifier tests; a real PostgreSQL and store URLs for the store tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.blocks.cose import keyring
from tests.support.postgres import Postgres, postgres_fixture

postgres = postgres_fixture(scope="session", settings=("fsync=off",))


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def ring(key: Ed25519PrivateKey) -> dict[bytes, Ed25519PublicKey]:
    return keyring(key.public_key())


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each engine: an SQLite file, a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'grid.sqlite'}"
    server: Postgres = request.getfixturevalue("postgres")
    return server.new_database()


StoreUrl = Callable[[], str]
