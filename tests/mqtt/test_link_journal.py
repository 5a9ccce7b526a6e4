"""The journal of the grid link: one line per connection state change, with the reason."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.adapters.mqtt import GridLink
from tests.mqtt.helpers import TIMEOUT, running_link
from tests.support.certs import TestCA
from tests.support.mosquitto import Broker, make_broker, mosquitto_fixture

USERS = {"gw-j": "gateway secret"}
broker = mosquitto_fixture(users=USERS, tls=True)


def lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("edge") and r.levelno == level and "mqtt" in r.getMessage()
    ]


def wait_for(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        assert time.monotonic() < deadline, f"not in {TIMEOUT} s: {what}"
        time.sleep(0.05)


def several_attempts(link: GridLink, caplog: pytest.LogCaptureFixture, n: int = 4) -> None:
    """Wait until the link has retried `n` times (each attempt logs a debug line)."""

    def attempts() -> int:
        return sum("reconnecting" in r.getMessage() for r in caplog.records)

    wait_for(lambda: attempts() >= n, f"{n} reconnect attempts")


def test_a_wrong_password_is_one_warning_naming_the_reason(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = dataclasses.replace(broker.settings("gw-j"), password="guess")
    with running_link(wrong, tmp_path / "gw.sqlite", "gw-j") as link:
        several_attempts(link, caplog)
    [warning] = lines(caplog, logging.WARNING)
    assert broker.url in warning and "Not authorized" in warning
    assert lines(caplog, logging.INFO) == []


def test_a_server_of_another_ca_is_one_warning_naming_the_tls_failure(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stranger = TestCA(tmp_path, name="some other CA")
    wrong_ca = dataclasses.replace(broker.settings("gw-j"), ca_file=stranger.ca_file)
    with running_link(wrong_ca, tmp_path / "gw.sqlite", "gw-j") as link:
        several_attempts(link, caplog)
    [warning] = lines(caplog, logging.WARNING)
    assert "certificate verify failed" in warning


@pytest.fixture
def cert_broker(tmp_path: Path) -> Iterator[Broker]:
    """A TLS broker that requires a client certificate from its own CA."""
    strict = make_broker(tmp_path / "strict", users=USERS, tls=True)
    with strict.config.open("a") as config:
        config.write("require_certificate true\n")
    strict.start()
    try:
        yield strict
    finally:
        strict.stop()


def test_a_rejected_client_certificate_is_one_warning(
    cert_broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    foreign = TestCA(tmp_path, name="not the broker's CA").issue("client-x", "gw-j", server=False)
    settings = dataclasses.replace(
        cert_broker.settings("gw-j"), client_cert=foreign.cert, client_key=foreign.key
    )
    with running_link(settings, tmp_path / "gw.sqlite", "gw-j") as link:
        several_attempts(link, caplog)
        assert not link.snapshot().connected
    [warning] = lines(caplog, logging.WARNING)
    assert cert_broker.url in warning and "ssl" in warning.lower()  # the TLS failure
    assert lines(caplog, logging.INFO) == []


def test_a_broker_restart_is_a_disconnect_line_and_a_connect_line(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_link(broker.settings("gw-j"), tmp_path / "gw.sqlite", "gw-j") as link:
        link.wait(lambda s: s.connected, TIMEOUT)
        broker.stop()
        link.wait(lambda s: not s.connected, TIMEOUT)
        several_attempts(link, caplog)
        broker.start()
        link.wait(lambda s: s.connected, TIMEOUT)
        infos = lines(caplog, logging.INFO)
        warnings = lines(caplog, logging.WARNING)
    connected = [line for line in infos if "connected to" in line]
    assert len(connected) == 2 and all(broker.url in line for line in connected)
    assert len(warnings) <= 2, warnings  # lost, and at most one "cannot connect" while down
    assert "lost" in warnings[0] and broker.url in warnings[0]
