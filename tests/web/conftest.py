"""A store with two replayed days, shared by a module's tests; the page served in-process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge.config import load_config
from edge.web import open_web
from edge.web.server import WebServer
from tests.web.helpers import Stored, free_port, stored_gateway


class FakeClock:
    """The page's clock in tests: time moves only when the test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    return stored_gateway(tmp_path_factory.mktemp("web"), days=2)


@contextmanager
def serving(config: Path, clock: FakeClock | None = None) -> Iterator[WebServer]:
    server = open_web(load_config(config), port=free_port(), clock=clock)
    server.start()
    try:
        yield server
    finally:
        server.stop()
