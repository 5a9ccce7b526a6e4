"""Opening the gateway's database: durability settings and schema migrations.

Strategy: one SQLite file in the data directory holds everything the gateway must not lose
(registers, blocks, outbox, consent state, consumer log), so that a release, its outbox entries
and its log line commit in one transaction. WAL with `synchronous=FULL` makes a commit durable
at a power cut; the agent commits once per closed quarter-hour, not per telegram (SD cards
wear). The schema version lives in `PRAGMA user_version`; migrations run in order at start-up,
each in its own transaction, and a database from a newer release is refused rather than
damaged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge.errors import StoreError
from edge.store.schema import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)
DB_NAME = "p1edge.sqlite"


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (and migrate) the database at `path`; a directory means `<dir>/p1edge.sqlite`."""
    target = Path(path)
    if target.is_dir():
        target = target / DB_NAME
    try:
        if readonly:
            conn = sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True, isolation_level=None)
        else:
            conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the database {target}: {exc}") from None
    if version > SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"{target} has schema version {version}, this release knows {SCHEMA_VERSION}: "
            "upgrade p1edge or restore a matching backup"
        )
    if version < SCHEMA_VERSION and not readonly:
        _migrate(conn, version)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: everything in the block commits together, or nothing does.

    `BEGIN IMMEDIATE` takes the write lock up front, so two processes (the agent and
    `edge-agent consent`) never interleave a read-modify-write.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
        with transaction(conn):
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
