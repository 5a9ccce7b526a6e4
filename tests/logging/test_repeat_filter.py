"""RepeatFilter: a state change is always logged, only the attempts of one retry loop are held."""

from __future__ import annotations

import io
import logging
import queue
from collections.abc import Iterator
from contextlib import contextmanager

from edge import logsetup
from edge.adapters.sources import SerialSource
from tests.adapters.conftest import PATIENCE_S, FakeClock, closed_tcp_port

RETRY = {"retrying": True}  # what a retry loop's lines carry (edge/adapters/source_base.py)


@contextmanager
def filtered(now: list[float]) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(logsetup.RepeatFilter(clock=lambda: now[0]))
    log = logging.getLogger("edge.test.repeat_filter")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield log, buffer
    finally:
        log.removeHandler(handler)


def test_every_broker_connect_and_loss_is_logged_however_often() -> None:
    """The auditor's sequence, 60 s apart: it gave SENT SENT SENT held held held."""
    now = [0.0]
    url = "mqtt://127.0.0.1:1883"
    lines = [
        f"mqtt: connected to {url} (MQTT 5)",
        f"mqtt: connection to {url} lost: broker gone",
        f"mqtt: {url}: cannot connect: [Errno 111] Connection refused",
        f"mqtt: connected to {url} (MQTT 5)",
        f"mqtt: connection to {url} lost: broker gone",
        f"mqtt: connected to {url} (MQTT 5)",
    ]
    with filtered(now) as (log, buffer):
        for line in lines:
            log.warning(line)
            now[0] += 60
    assert buffer.getvalue().splitlines() == lines


def test_a_source_retry_loop_with_a_growing_delay_logs_once_and_its_count_at_the_end() -> None:
    now = [0.0]
    with filtered(now) as (log, buffer):
        log.info("p1-main: connected (115200 8N1)")
        log.info("p1-main: backoff (lost: read failed; retry in 1 s)", extra=RETRY)
        for delay in [2, 4, 8, 16, 30, 30, 30, 30]:
            log.info("p1-main: connecting (/dev/pts/7 at 115200 8N1)", extra=RETRY)
            log.info(f"p1-main: backoff (lost: open failed; retry in {delay:g} s)", extra=RETRY)
            now[0] += delay
        log.info("p1-main: connecting (/dev/pts/7 at 115200 8N1)", extra=RETRY)
        log.info("p1-main: connected (115200 8N1)")
        # the second outage is a new event: shown again
        log.info("p1-main: backoff (lost: read failed; retry in 1 s)", extra=RETRY)
        log.info("p1-main: connecting (/dev/pts/7 at 115200 8N1)", extra=RETRY)
        log.info("p1-main: connected (115200 8N1)")
    assert buffer.getvalue().splitlines() == [
        "p1-main: connected (115200 8N1)",
        "p1-main: backoff (lost: read failed; retry in 1 s)",
        "p1-main: connecting (/dev/pts/7 at 115200 8N1)",
        "p1-main: backoff (lost: open failed; retry in 2 s)",
        "p1-main: connected (115200 8N1) (after 15 retry lines held back)",
        "p1-main: backoff (lost: read failed; retry in 1 s)",
        "p1-main: connecting (/dev/pts/7 at 115200 8N1)",
        "p1-main: connected (115200 8N1)",
    ]


def test_a_new_reason_within_the_loop_is_shown_and_an_hour_long_loop_shows_hourly() -> None:
    now = [0.0]
    with filtered(now) as (log, buffer):
        for _ in range(120):  # an hour of 30 s backoff
            log.info("p1-main: connecting (/dev/ttyUSB0)", extra=RETRY)
            log.info("p1-main: backoff (No such file or directory; retry in 30 s)", extra=RETRY)
            now[0] += 30
        log.info("p1-main: connecting (/dev/ttyUSB0)", extra=RETRY)
        log.info("p1-main: backoff (Permission denied; retry in 30 s)", extra=RETRY)
        log.info("p1-ev: connecting (/dev/ttyUSB1)", extra=RETRY)  # another subject
    held = "(and 119 times more in the last hour)"
    assert buffer.getvalue().splitlines() == [
        "p1-main: connecting (/dev/ttyUSB0)",
        "p1-main: backoff (No such file or directory; retry in 30 s)",
        f"p1-main: connecting (/dev/ttyUSB0) {held}",
        "p1-main: backoff (Permission denied; retry in 30 s)",
        "p1-ev: connecting (/dev/ttyUSB1)",
    ]


def test_lines_of_no_retry_loop_are_never_held() -> None:
    now = [0.0]
    with filtered(now) as (log, buffer):
        for _ in range(3):
            log.warning("alarm store: disk full")
            log.info("alarm store cleared")
    assert len(buffer.getvalue().splitlines()) == 6


def test_a_real_source_retrying_to_its_cap_logs_its_loop_once() -> None:
    """A serial source on a refused port, through the filter the agent installs: 8 attempts at
    1, 2, 4 ... 30 s gave 9 lines (each backoff line differs by its delay); now 2, then the end."""
    clock = FakeClock(limit=8)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(logsetup.RepeatFilter(clock=clock.monotonic))
    log = logging.getLogger("edge.source")
    log.addHandler(handler)
    level, log.level = log.level, logging.INFO
    try:
        url = f"socket://127.0.0.1:{closed_tcp_port()}"
        src = SerialSource("ev", url, queue.Queue(), dialect="dsmr5", clock=clock)
        src.start()
        assert clock.done.wait(PATIENCE_S)
        assert src.stop(timeout=5)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    lines = buffer.getvalue().splitlines()
    assert clock.waits == [1, 2, 4, 8, 16, 30, 30, 30]
    assert [line.split(" (")[0] for line in lines] == [
        "ev: connecting",
        "ev: backoff",
        "ev: stopped",
    ]
    assert "retry in 1 s" in lines[1] and lines[2].endswith("(after 14 retry lines held back)")
