"""The page's thread under the agent's supervisor (DESIGN.md "Supervision and status")."""

from __future__ import annotations

import time
from collections.abc import Callable

from edge.config import load_config
from edge.supervisor import Health
from edge.web import open_web
from edge.web.server import WEB_ALARM
from tests.support.mosquitto import free_port
from tests.web.helpers import Client, Stored


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_failing_page_is_an_alarm_and_is_served_again(stored: Stored) -> None:
    server = open_web(load_config(stored.config), port=free_port())
    real = server.httpd.serve_forever
    calls: list[float] = []

    def fails_once(poll_interval: float = 0.5) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise OSError("the accepting socket broke")
        real(poll_interval=poll_interval)

    server.httpd.serve_forever = fails_once  # type: ignore[method-assign]
    health = Health()
    server.start(health)
    try:
        assert _wait(lambda: len(calls) >= 2), "the supervisor did not restart the page"
        assert server.last_error == "OSError: the accepting socket broke"
        assert WEB_ALARM in {alarm.key for alarm in health.alarms()}
        assert _wait(lambda: Client(server.port).get("/login")[0] == 200)
        assert health.fatal is None and server.serving
    finally:
        server.stop()
    assert not server.serving
    assert WEB_ALARM not in {alarm.key for alarm in health.alarms()}  # a clean end clears it
