"""A failed commit advances nothing: the stored checkpoint never runs ahead of stored data.

Two ways to fill the disk: an injected `sqlite3.OperationalError("database or disk is full")`
on the commits that carry closures (always possible, also in CI without mount rights: the
small checkpoint-only commit then still fits, as on a nearly full card), and a real 2 MB tmpfs
the test mounts (root only; skipped with that reason elsewhere). After a restart with room,
replaying the same capture must give exactly the boundaries of a run that never failed.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

import edge.agent
from edge.agent import Agent, capture_sources
from edge.config import load_config
from edge.registers import Closed
from edge.store import registers as store_registers
from edge.store.db import DB_NAME
from firmware_sim.api import render_to_file
from tests.integration.helpers import PRIMARY, write_config

Rows = list[tuple[Any, ...]]


def _split_capture(directory: Path) -> tuple[Path, Path]:
    """A 6-hour DSMR 5 capture cut in two at a telegram start."""
    whole = directory / "whole.cap"
    render_to_file(
        whole, "dsmr5", start="2026-03-28T00:00:00+01:00", duration="6h", seed=5, interval=10
    )
    data = whole.read_bytes()
    cut = data.index(b"/", len(data) // 2)
    first, second = directory / "first.cap", directory / "second.cap"
    first.write_bytes(data[:cut])
    second.write_bytes(data[cut:])
    return first, second


def _replay(root: Path, captures: list[Path], give_up_s: float = 0.0) -> int:
    config = load_config(root / "agent.toml")
    sources = capture_sources(PRIMARY, list(map(str, captures)))
    agent = Agent(config, until_eof=True, sources=sources)
    agent.store_give_up_s = give_up_s  # 0: the first failed commit is fatal
    return agent.run()


def _rows(root: Path) -> tuple[Rows, Rows]:
    conn = sqlite3.connect(root / "data" / DB_NAME)
    try:
        boundaries = conn.execute(
            "SELECT boundary_utc, status, import_t1, import_t2, export_t1, export_t2"
            " FROM boundary ORDER BY boundary_utc"
        ).fetchall()
        intervals = conn.execute(
            "SELECT start_utc, status, flags FROM interval ORDER BY start_utc"
        ).fetchall()
    finally:
        conn.close()
    return boundaries, intervals


def _setup(root: Path, first: Path, second: Path) -> None:
    root.mkdir()
    write_config(root, [(PRIMARY, "primary", f"file:{first}", "dsmr5")])


@pytest.fixture
def truth(tmp_path: Path) -> tuple[Path, Path, tuple[Rows, Rows]]:
    first, second = _split_capture(tmp_path)
    clean = tmp_path / "clean"
    _setup(clean, first, second)
    assert _replay(clean, [first]) == 0
    assert _replay(clean, [second]) == 0
    rows = _rows(clean)
    assert len(rows[0]) >= 24, "the capture closes a day's worth of quarter-hours"
    return first, second, rows


def test_a_failed_commit_does_not_store_the_checkpoint_ahead_of_the_data(
    tmp_path: Path,
    truth: tuple[Path, Path, tuple[Rows, Rows]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second, expected = truth
    root = tmp_path / "failing"
    _setup(root, first, second)
    assert _replay(root, [first]) == 0
    stored = _rows(root)

    real = store_registers.commit_closed

    def disk_full(
        conn: sqlite3.Connection, closed: Iterable[Closed], checkpoints: Mapping[str, Any]
    ) -> None:
        items = list(closed)
        if items:  # the big commit does not fit; a checkpoint alone still would
            raise sqlite3.OperationalError("database or disk is full")
        real(conn, items, checkpoints)

    monkeypatch.setattr(edge.agent, "commit_closed", disk_full)
    with caplog.at_level(logging.WARNING):
        assert _replay(root, [second]) == 1, "a commit that never succeeded: exit non-zero"
    assert "alarm store: commit failed (database or disk is full)" in caplog.text
    assert _rows(root) == stored, "nothing of the failed run was stored"

    monkeypatch.setattr(edge.agent, "commit_closed", real)  # room again: restart, replay
    assert _replay(root, [second]) == 0
    assert _rows(root) == expected, "every closure is there after the restart"


def test_a_commit_that_fails_then_succeeds_stores_everything_in_order(
    tmp_path: Path, truth: tuple[Path, Path, tuple[Rows, Rows]], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, expected = truth
    root = tmp_path / "flaky"
    _setup(root, first, second)
    real = store_registers.commit_closed
    failures = 2  # the first two commits with closures fail

    def flaky(
        conn: sqlite3.Connection, closed: Iterable[Closed], checkpoints: Mapping[str, Any]
    ) -> None:
        nonlocal failures
        items = list(closed)
        if items and failures:
            failures -= 1
            raise sqlite3.OperationalError("database is locked")
        real(conn, items, checkpoints)

    monkeypatch.setattr(edge.agent, "commit_closed", flaky)
    assert _replay(root, [first, second], give_up_s=300) == 0  # retried with backoff
    assert _rows(root) == expected


# `edge-agent` itself, with the one difference that a failed commit is fatal at once: the CLI's
# replay otherwise retries for its 30 s give-up (the retrying itself is the flaky test's).
_GIVE_UP_AT_ONCE = (
    "import sys, edge.agent\n"
    "init = edge.agent.Agent.__init__\n"
    "def patched(self, *a, **k):\n"
    "    init(self, *a, **k)\n"
    "    self.store_give_up_s = 0.0\n"
    "edge.agent.Agent.__init__ = patched\n"
    "from edge.cli import main\n"
    "sys.argv[0] = 'edge-agent'\n"
    "raise SystemExit(main())\n"
)


def _cli_giving_up_at_once(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _GIVE_UP_AT_ONCE, *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_full_file_system_stops_the_agent_cleanly_and_loses_nothing_closed(
    tmp_path: Path, truth: tuple[Path, Path, tuple[Rows, Rows]]
) -> None:
    first, second, expected = truth
    root = tmp_path / "tmpfs"
    _setup(root, first, second)
    data = root / "data"
    data.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(data)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr!r}): see the injected test")
    try:
        assert _replay(root, [first]) == 0
        stored = _rows(root)
        fd = os.open(data / "filler", os.O_WRONLY | os.O_CREAT)  # the card fills up
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        result = _cli_giving_up_at_once(
            "replay", "--config", str(root / "agent.toml"), "--ap", PRIMARY, str(second)
        )
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert "full" in result.stderr
        (data / "filler").unlink()
        now = _rows(root)
        assert now[0][: len(stored[0])] == stored[0], "what was stored stays"
        assert _replay(root, [second]) == 0  # restart with room
        assert _rows(root) == expected
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
