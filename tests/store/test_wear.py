"""Kind to the SD card: a quarter-hour's commit of six meters touches a handful of pages, and
a database from before the time-first layout migrates with its data intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.registers import Boundary, Closed, Interval
from edge.store import SCHEMA_VERSION, connect
from edge.store.db import DB_NAME
from edge.store.registers import (
    boundaries,
    commit_closed,
    first_boundary,
    intervals,
    last_boundary,
    load_checkpoints,
)
from edge.store.schema import MIGRATIONS

APS = [f"87168712000000000{i}" for i in range(6)]
METER = "4530303030303030303030303030303031"
START = 1_780_272_000  # a quarter-hour boundary


def _quarter(q: int) -> list[Closed]:
    t = START + 900 * q
    regs = (7_841_626 + 10 * q, 1_305_296, 183_967 + q, 4_018_761)
    return [
        Closed(ap, Boundary(t, "measured", regs, METER, 0), Interval(t - 900, "measured", (), 1234))
        for ap in APS
    ]


def _checkpoints(q: int) -> dict[str, dict[str, object]]:
    return {ap: {"last_t": START + 900 * q, "series": 0, "meter": METER} for ap in APS}


def test_a_quarter_hour_commit_of_six_meters_writes_a_few_pages_not_one_per_meter(
    tmp_path: Path,
) -> None:
    # Keyed (ap, time), six meters' rows went to six leaf pages per table: ~20 WAL frames a
    # commit once each point had a page of its own. Keyed (time, ap) they share the newest leaf.
    conn = connect(tmp_path)
    for q in range(1, 400):  # ~4 days: every point's history spans many pages
        commit_closed(conn, _quarter(q), _checkpoints(q))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    wal = tmp_path / f"{DB_NAME}-wal"
    commits = 20
    for q in range(400, 400 + commits):
        commit_closed(conn, _quarter(q), _checkpoints(q))
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    frames_per_commit = wal.stat().st_size / (page + 24) / commits
    assert frames_per_commit <= 6, frames_per_commit
    conn.close()


def test_the_time_first_migration_keeps_every_row_and_the_queries_answer_the_same(
    tmp_path: Path,
) -> None:
    db = tmp_path / DB_NAME
    old = sqlite3.connect(db, isolation_level=None)
    for step in MIGRATIONS[:5]:  # a database as the previous release left it
        for statement in step:
            old.execute(statement)
    old.execute("PRAGMA user_version = 5")
    for q in range(1, 50):
        for item in _quarter(q):
            b, i = item.boundary, item.interval
            assert b.registers is not None and i is not None
            old.execute(
                "INSERT INTO boundary VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (item.ap, b.utc, b.meter, b.series, *b.registers, b.status),
            )
            old.execute(
                "INSERT INTO interval VALUES (?, ?, ?, ?, ?)",
                (item.ap, i.start, i.status, "", i.max_power_w),
            )
    old.execute("INSERT INTO checkpoint VALUES (?, ?)", (APS[2], '{"last_t": 1}'))
    old.close()

    conn = connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM boundary").fetchone()[0] == 49 * 6
    assert conn.execute("SELECT count(*) FROM interval").fetchone()[0] == 49 * 6
    assert load_checkpoints(conn) == {APS[2]: {"last_t": 1}}
    ap = APS[3]
    assert first_boundary(conn, ap) == START + 900
    assert last_boundary(conn, ap) == START + 900 * 49
    assert first_boundary(conn, "871687129999999999") is None
    got = boundaries(conn, ap, START + 900 * 10, START + 900 * 12)
    assert [(b.utc, b.registers) for b in got] == [
        (c.boundary.utc, c.boundary.registers)
        for q in (10, 11, 12)
        for c in _quarter(q)
        if c.ap == ap
    ]
    assert [i.start for i in intervals(conn, ap, START, START + 900 * 3)] == [
        START, START + 900, START + 1800
    ]  # fmt: skip
    conn.close()


def test_the_per_point_range_queries_seek_by_time_rather_than_scan_the_table(
    tmp_path: Path,
) -> None:
    conn = connect(tmp_path)
    queries = {
        "boundary": "SELECT boundary_utc FROM boundary WHERE ap = ?"
        " AND boundary_utc BETWEEN ? AND ? ORDER BY boundary_utc",
        "interval": "SELECT start_utc FROM interval WHERE ap = ?"
        " AND start_utc >= ? AND start_utc < ? ORDER BY start_utc",
    }
    for table, query in queries.items():
        plan = [row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}", (APS[0], 0, 1))]
        assert len(plan) == 1 and plan[0].startswith(f"SEARCH {table} USING PRIMARY KEY"), plan
    conn.close()
