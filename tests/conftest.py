"""Shared test helpers: the real fixture telegrams."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
FIXTURE_NAMES = sorted(p.name for p in DATA.glob("*.txt"))


def fixture_bytes(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture(scope="session")
def all_fixtures() -> dict[str, bytes]:
    return {name: fixture_bytes(name) for name in FIXTURE_NAMES}
