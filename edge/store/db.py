"""Opening the gateway's database: durability settings, schema migrations, safe creation.

Strategy: one SQLite file in the data directory holds everything the gateway must not lose
(registers, blocks, outbox, consent state, consumer log), so that a release, its outbox entries
and its log line commit in one transaction. WAL with `synchronous=FULL` makes a commit durable
at a power cut; the agent commits once per closed quarter-hour, not per telegram (SD cards
wear). The schema version lives in `PRAGMA user_version`; migrations run in order at start-up,
each in its own transaction that re-reads the version (two processes migrating at once do each
step once), and a database from a newer release is refused rather than damaged.

A new database is built complete under a temporary name and then linked into place (`link`
fails if the name exists), so another process never sees a half-made one: the name holds a
whole database or nothing. Hence an existing file that is empty or not SQLite is damage (a
full SD card, a bad restore), never "new": it is refused with its path, not re-created over
the history it should hold. Read-only opens (status, log, export) create nothing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge.errors import StoreError
from edge.store.schema import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)
DB_NAME = "p1edge.sqlite"
BUSY_TIMEOUT_MS = 5000

_opened: list[Path] = []  # the last database opened, for a one-line error at the top level


def database_path(path: str | Path) -> Path:
    """`path` itself, or `<path>/p1edge.sqlite` when it is a directory."""
    target = Path(path)
    return target / DB_NAME if target.is_dir() else target


def last_opened() -> Path | None:
    """The database this process opened last (to name it when a query finds damage)."""
    return _opened[-1] if _opened else None


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (and migrate) the database at `path`; a directory means `<dir>/p1edge.sqlite`.

    `readonly`: open without creating or changing anything; a missing database is a
    `StoreError` (the agent has not run yet), and a read-only data directory works.
    """
    target = database_path(path)
    _opened[:] = [target]
    if readonly:
        conn = _open_readonly(target)
    else:
        if not target.exists():
            _create(target)
        _refuse_empty(target)
        conn = _open(target)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{target} has schema version {version}, this release knows {SCHEMA_VERSION}: "
                "upgrade p1edge or restore a matching backup"
            )
        if version < SCHEMA_VERSION:
            if readonly:
                raise StoreError(
                    f"{target} has schema version {version}, this release needs "
                    f"{SCHEMA_VERSION}: start the agent once to upgrade it"
                )
            migrate(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"cannot use the database {target}: {exc}") from None
    except StoreError:
        conn.close()
        raise
    return conn


def _open(target: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the database {target}: {exc}") from None
    return conn


def _open_readonly(target: Path) -> sqlite3.Connection:
    if not target.is_file():
        raise StoreError(f"no database at {target}: the agent has not recorded anything yet")
    _refuse_empty(target)
    try:
        conn = sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA user_version")
        return conn
    except sqlite3.OperationalError:
        # A WAL database needs its -shm file, which a read-only directory cannot get: where
        # nobody can write, nothing can change under us and the file may be read as immutable.
        if os.access(target.parent, os.W_OK):
            raise StoreError(f"cannot open the database {target} for reading") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the database {target}: {exc}") from None
    try:
        conn = sqlite3.connect(f"{target.as_uri()}?immutable=1", uri=True, isolation_level=None)
        conn.execute("PRAGMA user_version")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the database {target}: {exc}") from None
    return conn


def _refuse_empty(target: Path) -> None:
    try:
        size = target.stat().st_size
    except OSError as exc:
        raise StoreError(f"cannot open the database {target}: {exc.strerror}") from None
    if size == 0:
        raise StoreError(
            f"{target} is empty (0 bytes), not a p1edge database: restore a backup, or move it "
            "away to start a new history (consent and the block chain start afresh)"
        )


def _create(target: Path) -> None:
    """Build the whole schema under a temporary name, then link it into place atomically."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.new")
    temporary.unlink(missing_ok=True)
    try:
        conn = sqlite3.connect(temporary, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous = FULL")
            migrate(conn)
        finally:
            conn.close()
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs
            os.link(temporary, target)
        _fsync_dir(target.parent)
    except (OSError, sqlite3.DatabaseError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise StoreError(f"cannot create the database {target}: {reason}") from None
    finally:
        temporary.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: everything in the block commits together, or nothing does.

    `BEGIN IMMEDIATE` takes the write lock up front, so two processes (the agent and
    `edge-agent consent`) never interleave a read-modify-write. A failed COMMIT (disk full)
    is rolled back too, so the connection is usable again and nothing half-done remains.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the missing migrations, each step once even when two processes race."""
    while True:
        with transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                return
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
