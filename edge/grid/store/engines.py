"""The two engines behind the grid store: a connection, its transactions, its placeholders.

SQLite (the embedded default): WAL, `synchronous = FULL` (a block is acknowledged to the broker
only after its commit, so a commit must survive a power cut), BEGIN IMMEDIATE so that two
collector processes on one file take turns instead of failing, and a busy timeout for that.
PostgreSQL (psycopg 3): READ COMMITTED writes whose conflicts the insert itself settles
(ON CONFLICT), REPEATABLE READ for the allocation's consistent read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from edge.errors import ConfigError
from edge.grid.store.schema import POSTGRES, SQLITE, Engine

BUSY_TIMEOUT_MS = 60_000


class Connection(Protocol):
    """The little of a DB-API connection the store uses, with `?` placeholders."""

    engine: Engine

    def transaction(self, *, write: bool) -> Any: ...
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]: ...
    def copy_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None: ...
    def close(self) -> None: ...


class SqliteConnection:
    """One sqlite3 connection in autocommit mode; transactions are explicit."""

    engine = SQLITE

    def __init__(self, path: Path) -> None:
        try:
            # one user at a time, not always the opening thread (the collector commits on its own)
            self.conn = sqlite3.connect(
                path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the SQLite store {path}: {exc}") from None

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[None]:
        # a read transaction is one snapshot in WAL mode; a write one takes the lock at once
        self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, tuple(params)).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        yield from self.conn.execute(sql, tuple(params))

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError("staging tables are PostgreSQL's")

    def close(self) -> None:
        self.conn.close()


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresConnection:
    """One psycopg 3 connection; `?` placeholders become `%s`."""

    engine = POSTGRES

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                "a postgresql:// store needs psycopg 3: pip install 'p1edge[grid]'"
            ) from None
        self._psycopg = psycopg
        try:
            self.conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise ConfigError(f"cannot connect to the PostgreSQL store: {exc}") from None
        self._staged = False

    def _stage(self) -> None:
        # session-local, emptied at each commit: a batch's keys and blocks on their way in
        if self._staged:
            return
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staged_key (gw TEXT, ap TEXT, seq BIGINT) "
            "ON COMMIT DELETE ROWS"
        )
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staged_block (gw TEXT, ap TEXT, seq BIGINT, "
            "day TEXT, kid TEXT, cose BYTEA, sha256 BYTEA, received_utc BIGINT, kind TEXT, "
            "prev BYTEA) ON COMMIT DELETE ROWS"
        )
        self._staged = True

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[None]:
        if not write:
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield
            finally:
                self.conn.execute("COMMIT")
            return
        with self.conn.transaction():
            yield

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # binary parameters: arrays of bytea go as bytes, not as hex text (a third of the cost)
        cursor = self.conn.execute(_pg(sql), tuple(params), binary=True)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(_pg(sql), rows)  # type: ignore[arg-type]

    def stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        # a server-side cursor: millions of blocks are not all held in memory at once
        with self.conn.cursor(name="grid_stream") as cursor:
            cursor.itersize = 2000
            cursor.execute(_pg(sql), tuple(params))  # type: ignore[arg-type]
            yield from cursor

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """COPY rows into one of the staging tables (inside the caller's transaction)."""
        self._stage()
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[call-overload]
            for row in rows:
                copy.write_row(row)

    def close(self) -> None:
        self.conn.close()
