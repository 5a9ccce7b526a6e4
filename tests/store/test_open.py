"""Opening the database: never re-created over history, safe under concurrency, read-only
commands create nothing, one agent per data directory."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge.errors import StoreError
from edge.store import SCHEMA_VERSION, connect
from edge.store.db import DB_NAME
from edge.store.lock import DataDirLock
from tests.integration.helpers import PRIMARY, edge, write_config


def _open_and_close(data_dir: str) -> int:
    conn = connect(data_dir)
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        return version
    finally:
        conn.close()


def test_many_processes_creating_the_schema_at_once_all_succeed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    context = multiprocessing.get_context("spawn")
    with context.Pool(6) as pool:
        versions = pool.map(_open_and_close, [str(data)] * 12)
    assert versions == [SCHEMA_VERSION] * 12
    assert not [p.name for p in data.iterdir() if p.name.endswith(".new")], "no leftovers"


def test_two_connections_migrating_one_old_database_do_each_step_once(tmp_path: Path) -> None:
    db = tmp_path / DB_NAME
    sqlite3.connect(db).execute("PRAGMA user_version = 0").connection.close()
    db.write_bytes(db.read_bytes())  # an existing (empty-schema) SQLite file, version 0
    first = sqlite3.connect(db, isolation_level=None)
    first.execute("CREATE TABLE keep (x)")  # not empty: a real (old) database
    first.close()
    conns = [connect(db), connect(db)]  # the second finds the schema made by the first
    assert [c.execute("PRAGMA user_version").fetchone()[0] for c in conns] == [SCHEMA_VERSION] * 2
    for conn in conns:
        conn.close()


def test_a_zero_byte_database_is_refused_not_reinitialised(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"")
    with pytest.raises(StoreError, match=r"p1edge\.sqlite is empty \(0 bytes\)"):
        connect(tmp_path)
    assert (tmp_path / DB_NAME).stat().st_size == 0, "left as it was, for the installer"


def _capture(path: Path) -> None:
    from firmware_sim.api import render_to_file

    render_to_file(
        path, "dsmr5", start="2026-03-28T00:00:00+01:00", duration="1h", seed=3, interval=10
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    _capture(tmp_path / "main.cap")
    return write_config(tmp_path, [(PRIMARY, "primary", "file:main.cap", "dsmr5")])


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_zero_byte_and_corrupt_databases_stop_run_and_export_with_one_line(
    tmp_path: Path, config: Path
) -> None:
    db = tmp_path / "data" / DB_NAME
    db.parent.mkdir()
    db.write_bytes(b"")
    result = edge("run", "--config", str(config), "--until-eof")
    assert result.returncode == 2 and str(db) in _one_line(result)
    assert db.stat().st_size == 0
    # a database whose pages past the header are garbage (a bad SD card, a torn restore)
    db.unlink()
    assert edge("run", "--config", str(config), "--until-eof").returncode == 0
    data = bytearray(db.read_bytes())
    data[100:] = b"\xa5" * (len(data) - 100)
    db.write_bytes(bytes(data))
    for args in (
        ("run", "--until-eof"),
        ("export", "--ap", PRIMARY, "--from", "2026-03-28", "--to", "2026-03-28"),
        ("status",),
    ):
        result = edge(*args[:1], "--config", str(config), *args[1:])
        assert result.returncode == 2, (args, result.stderr)
        assert str(db) in _one_line(result), args


READ_ONLY = (
    ("status",),
    ("log",),
    ("peaks",),
    ("export", "--ap", PRIMARY, "--from", "2026-03-28", "--to", "2026-03-28"),
    ("check-config",),
)


def test_read_only_commands_create_nothing(tmp_path: Path, config: Path) -> None:
    data = tmp_path / "data"
    for args in READ_ONLY:
        result = edge(args[0], "--config", str(config), *args[1:])
        assert not data.exists(), f"{args[0]} created {data}"
        if args[0] == "check-config":
            assert result.returncode == 0 and "will be created" in result.stdout
        elif args[0] == "status":
            assert result.returncode == 3, result.stderr  # not running
        else:
            assert result.returncode == 2 and "no database" in _one_line(result), args


@contextmanager
def read_only_dir(path: Path) -> Iterator[None]:
    """`path` read-only for this process: a tmpfs remounted read-only as root (who ignores
    modes), mode 0555 otherwise."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    copy = path.with_name("data.copy")
    shutil.copytree(path, copy)
    shutil.rmtree(path)
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(path)]).returncode:
        pytest.skip("root without mount permission here: cannot make a read-only data dir")
    try:
        shutil.copytree(copy, path, dirs_exist_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_read_only_commands_work_on_a_read_only_data_dir(tmp_path: Path, config: Path) -> None:
    assert edge("run", "--config", str(config), "--until-eof").returncode == 0
    data = tmp_path / "data"
    with read_only_dir(data):
        before = sorted(p.name for p in data.iterdir())
        for args in READ_ONLY:
            result = edge(args[0], "--config", str(config), *args[1:])
            if args[0] == "check-config":  # its job: say that the agent could not write here
                assert result.returncode == 2 and "cannot write in" in _one_line(result)
                continue
            expected = 3 if args[0] == "status" else 0  # status: the agent is not running
            assert result.returncode == expected, (args, result.stderr)
            assert "Traceback" not in result.stderr
        assert sorted(p.name for p in data.iterdir()) == before


def test_a_second_agent_on_the_same_data_dir_exits_2_with_one_line(
    tmp_path: Path, config: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    held = DataDirLock(data)  # as a running agent holds it
    try:
        result = edge("run", "--config", str(config), "--until-eof")
        message = _one_line(result)
        assert result.returncode == 2 and "another agent" in message and str(data) in message
    finally:
        held.release()
    assert edge("run", "--config", str(config), "--until-eof").returncode == 0
