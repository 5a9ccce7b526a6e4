"""edge.logsetup: the journal's format under systemd, the terminal's elsewhere, no retry spam."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge import logsetup
from tests.release.helpers import make_gateway
from tests.support.mosquitto import SKIP_REASON, mosquitto_binary, running_broker

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def journal_env(stream_file: Path) -> dict[str, str]:
    found = os.stat(stream_file)
    return {"JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}


@pytest.fixture(autouse=True)
def restore_root_logger() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def test_under_the_journal_lines_carry_the_priority_and_no_time(tmp_path: Path) -> None:
    path = tmp_path / "stderr"
    with path.open("w") as stream:
        logsetup.configure(0, stream=stream, environ=journal_env(path))
        log = logging.getLogger("edge.test")
        log.info("started")
        log.warning("broker gone")
        log.error("two\nlines")
        log.debug("not shown at level 0")
    assert path.read_text().splitlines() == [
        "<6>edge.test: started",
        "<4>edge.test: broker gone",
        "<3>edge.test: two",
        "<3>lines",
    ]


def test_a_journal_stream_of_another_file_is_not_ours(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_text("")
    out = tmp_path / "stderr"
    with out.open("w") as stream:
        logsetup.configure(0, stream=stream, environ=journal_env(other))
        logging.getLogger("edge.test").warning("on a terminal")
    line = out.read_text()
    assert STAMP.match(line) and "WARNING edge.test: on a terminal" in line


def test_quiet_and_verbose_levels() -> None:
    buffer = io.StringIO()
    logsetup.configure(-1, stream=buffer, environ={})
    logging.getLogger("edge.test").info("hidden")
    logging.getLogger("edge.test").warning("shown")
    assert "hidden" not in buffer.getvalue() and "shown" in buffer.getvalue()
    logsetup.configure(1, stream=buffer, environ={})
    logging.getLogger("edge.test").debug("detail")
    assert "detail" in buffer.getvalue()


def test_the_cli_offers_quiet_beside_verbose() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--help"], capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "-q, --quiet" in done.stdout and "-v, --verbose" in done.stdout


def test_the_agent_logs_one_line_per_event_in_the_journals_format(tmp_path: Path) -> None:
    if mosquitto_binary() is None:
        pytest.skip(SKIP_REASON)
    with running_broker(tmp_path / "broker") as broker:
        gateway = make_gateway(tmp_path / "gw", broker.url)
        gateway.feed("2026-03-02T00:00:00+01:00", "31h")  # past the 01:00-05:00 push
        stderr = tmp_path / "stderr"
        with stderr.open("w") as stream:
            env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
            done = subprocess.run(
                [sys.executable, "-m", "edge", "run", "--config", str(gateway.config),
                 "--until-eof"],
                stdout=subprocess.DEVNULL, stderr=stream, timeout=300, check=False,
                env=env | journal_env(stderr),
            )  # fmt: skip
    lines = stderr.read_text().splitlines()
    assert done.returncode == 0, lines
    assert lines and all(re.match(r"<[2-7]>edge[.\w]*: ", line) for line in lines), lines
    assert not [line for line in lines if STAMP.search(line[3:])], "journald adds the time"
    released = [line for line in lines if ": released 2026-03-02" in line]
    assert len(released) == 2, lines  # one line per point
    delivered = [line for line in lines if "mqtt: delivered " in line]
    assert len(delivered) == 2 and all("/day/2026-03-02" in line for line in delivered), lines
    assert len([line for line in lines if "mqtt: connected to" in line]) == 1, lines
