"""The journal of the local link: one line per connection state change, with the reason."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.local.link import LocalLink
from tests.support.certs import TestCA
from tests.support.mosquitto import (
    SKIP_REASON,
    make_broker,
    mosquitto_binary,
    running_broker,
)

TIMEOUT = 20.0


def lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "edge.local" and r.levelno == level]


def wait_for(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        assert time.monotonic() < deadline, f"not in {TIMEOUT} s: {what}"
        time.sleep(0.05)


def attempts_done(link: LocalLink, n: int) -> None:
    """Wait until the link has tried to connect `n` more times (it counts on its Health)."""
    start = link.attempts
    wait_for(lambda: link.attempts >= start + n, f"{n} connection attempts")


@pytest.fixture(autouse=True)
def _needs_mosquitto() -> None:
    if mosquitto_binary() is None:
        pytest.skip(SKIP_REASON)


def test_a_wrong_password_is_one_warning_naming_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_broker(tmp_path / "own", users={"ha": "right"}) as own:
        settings = dataclasses.replace(own.settings("ha"), password="wrong")
        link = LocalLink(settings, client_id="gw", availability_topic="p/availability")
        link.start()
        try:
            attempts_done(link, 4)
        finally:
            link.stop()
    [warning] = lines(caplog, logging.WARNING)
    assert own.url in warning and "Not authorized" in warning
    assert lines(caplog, logging.INFO) == []


def test_a_rejected_client_certificate_is_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    strict = make_broker(tmp_path / "own", tls=True)
    with strict.config.open("a") as config:
        config.write("require_certificate true\n")
    strict.start()
    try:
        foreign = TestCA(tmp_path, name="other CA").issue("client-x", "gw", server=False)
        settings = dataclasses.replace(
            strict.settings(), client_cert=foreign.cert, client_key=foreign.key
        )
        link = LocalLink(settings, client_id="gw", availability_topic="p/availability")
        link.start()
        try:
            attempts_done(link, 4)
            assert not link.connected
        finally:
            link.stop()
    finally:
        strict.stop()
    [warning] = lines(caplog, logging.WARNING)
    assert strict.url in warning and "ssl" in warning.lower()


def test_a_broker_restart_is_a_disconnect_line_and_a_connect_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_broker(tmp_path / "own") as own:
        link = LocalLink(own.settings(), client_id="gw", availability_topic="p/availability")
        link.start()
        try:
            wait_for(lambda: link.connected, "connected")
            own.stop()
            wait_for(lambda: not link.connected, "disconnected")
            attempts_done(link, 3)
            own.start()
            wait_for(lambda: link.connected, "connected again")
        finally:
            link.stop()
    connected = [line for line in lines(caplog, logging.INFO) if "connected" in line]
    assert len(connected) == 2 and all(own.url in line for line in connected)
    warnings = lines(caplog, logging.WARNING)
    assert "lost" in warnings[0] and own.url in warnings[0]
    assert len(warnings) <= 2, warnings  # lost, and at most one "cannot connect" while down
